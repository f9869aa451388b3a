// The web build in a real browser: headless Chromium on WebGPU (SwiftShader), the site as
// `scripts/web build` makes it. Run with `npm test` in web/ after `scripts/web build`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { execFileSync } from "node:child_process";
import { REPO, DIST, serve, launch, open, running, status, pixels, drag, nextFrame, region, coloured } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await serve();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const WHITE = [255, 255, 255];

/** Share of the pixels of `rect` shrunk by `inset` on each side that are not background. */
function cover(image, rect, inset = 0, background = WHITE) {
  let all = 0;
  let inked = 0;
  for (const pixel of region(image, rect, inset)) {
    all += 1;
    if (coloured(pixel, background)) inked += 1;
  }
  return inked / all;
}

/** The paper's MNIST class palette, read from the Rust source that generates the shader's. */
function classPalette() {
  const source = fs.readFileSync(path.join(REPO, "src/model/mnist.rs"), "utf8");
  const block = source.slice(source.indexOf("pub const PALETTE"), source.indexOf("\n];", source.indexOf("pub const PALETTE")));
  const colours = [...block.matchAll(/\[(\d+), (\d+), (\d+)\]/g)].map((m) => m.slice(1, 4).map(Number));
  assert.equal(colours.length, 10, "ten class colours in src/model/mnist.rs");
  return colours;
}

test("the default page grows the lizard, and its title counts the steps", async () => {
  const { page, context, problems } = await open(browser, server.url);
  const shown = await running(page, 150);
  assert.match(await page.title(), /^nca-sandbox — step \d+$/);
  const image = await pixels(page);
  fs.writeFileSync(path.join(DIST, "test-lizard.png"), image.png);
  // The lizard fills about a quarter of the grid's side, around its centre.
  const middle = cover(image, shown.grid_rect, 0.38);
  assert.ok(middle > 0.2, `the middle of the grid is ${(middle * 100).toFixed(1)}% coloured: no lizard grew`);
  const rim = cover(image, [shown.grid_rect[0], shown.grid_rect[1], shown.grid_rect[2], shown.grid_rect[1] + 40]);
  assert.ok(rim < 0.01, `the grid's top rows are ${(rim * 100).toFixed(1)}% coloured: the lizard should not reach them`);
  assert.deepEqual(problems, []);
  await context.close();
});

/** The row through the grid's middle, from the first to the last coloured pixel, 6 px high. */
function bodyBand(image, [l, t, r, b]) {
  const y = Math.round((t + b) / 2);
  const inked = [];
  for (let x = Math.ceil(l); x < Math.floor(r); x++) if (coloured(image.at(x, y), WHITE)) inked.push(x);
  assert.ok(inked.length > 10, `the grid's middle row holds ${inked.length} coloured pixels`);
  return [inked[0], y - 3, inked[inked.length - 1] + 1, y + 3];
}

test("a drag erases a hole through the lizard, and the hole regrows", async () => {
  const { page, context, problems } = await open(browser, server.url, "?speed=4");
  const grown = await running(page, 300);
  // Paused (Space), so the hole is seen before the lizard starts to heal it.
  await page.focus("#nca-canvas");
  await page.keyboard.press("Space");
  await page.waitForFunction(() => globalThis.ncaStatus?.paused, null, { timeout: 60_000 });
  const band = bodyBand(await pixels(page), grown.grid_rect);
  const before = cover(await pixels(page), band);
  assert.ok(before > 0.3, `the band through the middle is ${(before * 100).toFixed(1)}% coloured before the cut`);

  const y = (band[1] + band[3]) / 2;
  await drag(page, [band[0] - 10, y], [band[2] + 10, y]);
  await nextFrame(page);
  const cut = await status(page);
  const hole = cover(await pixels(page), band);
  assert.ok(hole < before / 3, `the drag left ${(hole * 100).toFixed(1)}% of the band coloured (was ${(before * 100).toFixed(1)}%)`);

  await page.keyboard.press("Space");
  await running(page, cut.step + 600);
  const healed = cover(await pixels(page), band);
  assert.ok(healed > before * 0.6, `600 steps later the band is ${(healed * 100).toFixed(1)}% coloured (was ${(before * 100).toFixed(1)}%)`);
  assert.deepEqual(problems, []);
  await context.close();
});

test("the digits scene from a link reads a 3 as a 3", async () => {
  const palette = classPalette();
  const { page, context, problems } = await open(browser, server.url, "?model=trained/mnist.safetensors&digit=3");
  const shown = await running(page, 150);
  const image = await pixels(page);
  const votes = new Array(10).fill(0);
  for (const [r, g, b] of region(image, shown.grid_rect, 0)) {
    if (!coloured([r, g, b], WHITE)) continue;
    const distance = palette.map(([pr, pg, pb]) => Math.abs(r - pr) + Math.abs(g - pg) + Math.abs(b - pb));
    const nearest = distance.indexOf(Math.min(...distance));
    if (distance[nearest] < 60) votes[nearest] += 1;
  }
  const total = votes.reduce((a, v) => a + v, 0);
  assert.ok(total > 50, `only ${total} pixels carry a class colour`);
  assert.ok(votes[3] / total > 0.5, `class 3 has ${votes[3]} of ${total} class-coloured pixels: ${votes}`);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a broken model opened from the computer is refused in one line while the scene runs on", async () => {
  const { page, context, problems } = await open(browser, server.url);
  const first = await running(page, 20);
  await page.setInputFiles("#open-file", { name: "broken.safetensors", mimeType: "application/octet-stream", buffer: Buffer.from("this is not a model") });
  const refused = await page.waitForFunction(() => globalThis.ncaStatus?.error?.includes("broken.safetensors") && globalThis.ncaStatus, null, {
    timeout: 60_000,
  });
  const { error, step } = await refused.jsonValue();
  assert.ok(!error.includes("\n"), `one line: ${error}`);
  assert.ok(step >= first.step);
  await running(page, step + 10);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a bad URL parameter is said on the page and in the title, not a blank canvas", async () => {
  for (const [query, said] of [
    ["?size=huge", "invalid value 'huge' for URL parameter 'size'"],
    ["?screenshot=x.png", "unknown URL parameter 'screenshot'"],
    ["?model=trained/nothing.safetensors", "trained/nothing.safetensors"],
  ]) {
    const { page, context } = await open(browser, server.url, query);
    await page.waitForFunction(() => globalThis.ncaStatus?.state === "error", null, { timeout: 120_000 });
    assert.match(await page.title(), /^error: /);
    const text = await page.textContent("#problem-text");
    assert.ok(text.includes(said), `${query}: the page says "${text}"`);
    assert.ok(await page.isVisible("#problem"));
    await context.close();
  }
});

test("a browser without WebGPU gets words, with the browsers that work", async () => {
  const init = () => Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined });
  const { page, context, problems } = await open(browser, server.url, "", { init });
  await page.waitForFunction(() => globalThis.ncaStatus?.state === "error", null, { timeout: 60_000 });
  assert.match(await page.title(), /^error: This browser has no WebGPU/);
  assert.match(await page.textContent("#problem-help"), /Chrome/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a bundled scenario plays to its end with the same living cells per region as the native GPU run", async () => {
  const scenario = "assets/scenarios/two_lizards_meet.ron";
  const nca = process.env.NCA_BIN;
  assert.ok(nca, "NCA_BIN names the native nca binary (.ci/run sets it) that the page is held against");
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "nca-web-scenario-"));
  execFileSync(nca, ["scenario", "run", scenario, "--backend", "gpu", "--out", out], { cwd: REPO, stdio: "inherit" });
  const rows = fs
    .readFileSync(path.join(out, "metrics.csv"), "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => line.split(","));
  const last = Math.max(...rows.map((r) => Number(r[1])));
  const native = Object.fromEntries(rows.filter((r) => Number(r[1]) === last).map((r) => [r[2], Number(r[4])]));

  const { page, context, problems } = await open(browser, server.url, `?scenario=${scenario}`);
  const done = await page.waitForFunction(
    () => {
      const s = globalThis.ncaStatus;
      if (s?.state === "error") return { error: s.error };
      return s?.scenario?.finished && Object.keys(s.scenario.alive).length > 0 && s.scenario;
    },
    null,
    { timeout: 600_000, polling: 250 },
  );
  const web = await done.jsonValue();
  assert.equal(web.error, undefined, `the page reports: ${web.error}`);
  assert.equal(web.step, last, "measured at the scenario's last step");
  assert.deepEqual(web.alive, native, "living cells per region, page against native");
  assert.ok(native.grid > 100, `the lizards grew (${native.grid} living cells)`);
  assert.deepEqual(problems, []);
  await context.close();
});
