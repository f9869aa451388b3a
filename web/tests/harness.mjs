// What every browser test needs: the built site served on 127.0.0.1, headless Chromium on its
// bundled SwiftShader WebGPU, pages whose console errors fail the test, and pixels read back
// from screenshots.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DIST = path.resolve(REPO, process.env.NCA_WEB_DIST ?? "dist");

// Tried on this kind of machine: without the last two, a WebGPU canvas stays white.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-unsafe-swiftshader",
  "--enable-features=Vulkan",
  "--use-vulkan=swiftshader",
  "--use-angle=swiftshader",
];

const TYPES = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".png": "image/png",
};

/** Serves `dir` on an ephemeral port of 127.0.0.1; resolves to its base URL and a close(). */
export function serve(dir = DIST) {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, "http://localhost");
    const file = path.join(dir, decodeURIComponent(url.pathname === "/" ? "/index.html" : url.pathname));
    if (!file.startsWith(dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      response.writeHead(404).end("not found");
      return;
    }
    response.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(response);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) }),
    ),
  );
}

export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: FLAGS, headless: true });
}

/**
 * Opens the site with `query` in a fresh page of `size`; every uncaught error, panic and
 * console error is collected in `problems` (a test asserts it is empty at its end).
 */
export async function open(browser, base, query = "", { width = 1100, height = 760, init } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
  });
  if (init) await page.addInitScript(init);
  await page.goto(base + query);
  return { page, context, problems };
}

/** Waits until the app runs with its grid at `step` or later; fails at once on an error state. */
export async function running(page, step = 1, timeout = 240_000) {
  const handle = await page.waitForFunction(
    (s) => {
      const status = globalThis.ncaStatus;
      if (status?.state === "error") return { error: status.error };
      return status?.state === "running" && status.step >= s && status.grid_rect ? status : false;
    },
    step,
    { timeout, polling: 100 },
  );
  const status = await handle.jsonValue();
  if (status.error !== undefined && status.state !== "running") throw new Error(`the app reports an error: ${status.error}`);
  return status;
}

/** Waits until the app has drawn another frame (input between frames is seen frame by frame). */
export async function nextFrame(page) {
  const { frames } = await status(page);
  await page.waitForFunction((f) => globalThis.ncaStatus?.frames > f, frames, { timeout: 60_000, polling: 16 });
}

/** A mouse drag from `from` to `to` in `steps` moves, each seen by the app in a frame of its own. */
export async function drag(page, [x0, y0], [x1, y1], steps = 12) {
  await page.mouse.move(x0, y0);
  await nextFrame(page);
  await page.mouse.down();
  await nextFrame(page);
  for (let i = 1; i <= steps; i++) {
    await page.mouse.move(x0 + ((x1 - x0) * i) / steps, y0 + ((y1 - y0) * i) / steps);
    await nextFrame(page);
  }
  await page.mouse.up();
  await nextFrame(page);
}

export const status = (page) => page.evaluate(() => globalThis.ncaStatus);

/**
 * The RGBA pixels of a screenshot of the page, decoded by the browser itself (no PNG library):
 * `{ width, height, at(x, y) -> [r, g, b, a] }` in CSS pixels.
 */
export async function pixels(page) {
  const png = await page.screenshot();
  const data = await page.evaluate(async (base64) => {
    const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${base64}`)).blob());
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    const image = context.getImageData(0, 0, bitmap.width, bitmap.height);
    return { width: image.width, height: image.height, rgba: Array.from(image.data) };
  }, png.toString("base64"));
  return {
    png,
    width: data.width,
    height: data.height,
    at: (x, y) => {
      const i = (Math.round(y) * data.width + Math.round(x)) * 4;
      return data.rgba.slice(i, i + 4);
    },
  };
}

/** The pixels of `rect` ([left, top, right, bottom]) shrunk by `inset` of its size on each side. */
export function* region(image, rect, inset = 0) {
  const [l, t, r, b] = rect;
  const dx = (r - l) * inset;
  const dy = (b - t) * inset;
  for (let y = Math.ceil(t + dy); y < Math.floor(b - dy); y++) {
    for (let x = Math.ceil(l + dx); x < Math.floor(r - dx); x++) yield image.at(x, y);
  }
}

/** Whether a pixel differs from the background it was taken against (white or dark). */
export function coloured([r, g, b], background) {
  return Math.abs(r - background[0]) + Math.abs(g - background[1]) + Math.abs(b - background[2]) > 60;
}
