// Measures the web build for the README: the site's size as served compressed (brotli), time to
// the first frame, and steps per second at `speed=max` of the lizard on 128² and of the digits
// canvas. Run after `scripts/web build`: `node measure.mjs` in web/.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { DIST, serve, launch, open, running, status } from "./tests/harness.mjs";

function siteSize() {
  let raw = 0;
  let brotli = 0;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (!entry.name.startsWith("test-")) {
        const bytes = fs.readFileSync(file);
        raw += bytes.length;
        brotli += zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
      }
    }
  };
  walk(DIST);
  return { raw_mb: raw / 1e6, brotli_mb: brotli / 1e6 };
}

async function stepsPerSecond(browser, base, query, seconds = 15) {
  const { page, context } = await open(browser, base, query);
  const t0 = Date.now();
  await running(page, 1);
  const firstFrameS = (Date.now() - t0) / 1000;
  await running(page, 30);
  const a = await status(page);
  const ta = Date.now();
  await page.waitForTimeout(seconds * 1000);
  const b = await status(page);
  const tb = Date.now();
  await context.close();
  return {
    first_frame_s: firstFrameS,
    steps_per_s: (b.step - a.step) / ((tb - ta) / 1000),
    frames_per_s: (b.frames - a.frames) / ((tb - ta) / 1000),
  };
}

async function lessonIteration(browser, base) {
  const { page, context } = await open(browser, base, "?speed=1/60");
  await running(page, 1);
  const ms = await page.evaluate(() => globalThis.nca.time_lesson_iterations(3));
  await context.close();
  return { ms_per_iteration: ms };
}

const server = await serve();
const browser = await launch();
try {
  const figures = {
    site: siteSize(),
    lizard_128: await stepsPerSecond(browser, server.url, "?speed=max"),
    digits_canvas: await stepsPerSecond(browser, server.url, "?model=trained/mnist.safetensors&digit=3&speed=max"),
    lesson_flex_one_thread: await lessonIteration(browser, server.url),
  };
  console.log(JSON.stringify(figures, null, 2));
} finally {
  await browser.close();
  await server.close();
}
