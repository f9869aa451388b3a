// The page's loader: checks for WebGPU, fetches the app and the site's files with a progress
// bar, hands the files to the app and starts it with the URL's query. Tests and embedding pages
// read `globalThis.ncaStatus` (state: "loading" | "running" | "error", step, frames, error).
import init, * as nca from "./nca_sandbox.js";

const $ = (id) => document.getElementById(id);
globalThis.ncaStatus = { state: "loading", step: 0, frames: 0, error: "" };

const BROWSERS =
  "WebGPU works in Chrome and Edge 113 or later (Windows, macOS, ChromeOS, Android 12+), " +
  "Chromium on Linux with --enable-unsafe-webgpu, Safari 26 and Firefox 141 on Windows. " +
  "WebGL is not enough: the cells are computed in compute shaders.";

function fail(reason, help = "") {
  reason = String(reason).replace(/^error:\s*/, "");
  globalThis.ncaStatus = { ...globalThis.ncaStatus, state: "error", error: reason };
  document.title = `error: ${reason}`;
  $("loading").hidden = true;
  $("open-bar").hidden = true;
  $("problem").hidden = false;
  $("problem-text").textContent = reason;
  $("problem-help").textContent = help;
}

async function fetchBytes(url, onBytes) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
    onBytes(value.length);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

async function webgpuProblem() {
  if (!navigator.gpu) return "This browser has no WebGPU.";
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return "This browser has WebGPU, but it found no GPU adapter it may use (it may be blocked for this GPU or driver).";
  } catch (e) {
    return `WebGPU failed to find an adapter: ${e}`;
  }
  return null;
}

function openFiles(files) {
  for (const file of files) {
    file.arrayBuffer().then((buffer) => nca.open_file(file.name, new Uint8Array(buffer)));
  }
}

function acceptFiles() {
  $("open-file").addEventListener("change", (event) => {
    openFiles(event.target.files);
    event.target.value = "";
  });
  addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    openFiles(event.dataTransfer.files);
  });
}

async function main() {
  const problem = await webgpuProblem();
  if (problem) return fail(problem, BROWSERS);
  if (new URLSearchParams(location.search).has("kiosk")) document.body.classList.add("kiosk");

  $("loading-what").textContent = "Loading the sandbox…";
  const manifest = await (await fetch("manifest.json")).json();
  const total = manifest.wasm_bytes + manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  let loaded = 0;
  const progress = (n) => {
    loaded += n;
    $("loading-bar").value = Math.min(1, loaded / total);
  };
  const wasm = fetchBytes("nca_sandbox_bg.wasm", progress);
  const files = manifest.files.map(async (f) => [f.path, await fetchBytes(f.path, progress)]);
  await init({ module_or_path: await wasm });
  // The app's exports, for the console and for measurements (web/measure.mjs).
  globalThis.nca = nca;
  for (const [path, bytes] of await Promise.all(files)) nca.add_site_file(path, bytes);

  $("loading-what").textContent = "Starting…";
  acceptFiles();
  try {
    nca.start(location.search);
  } catch (e) {
    // Bevy leaves its event loop by throwing a control-flow exception: not an error.
    if (String(e).includes("Using exceptions for control flow")) return ($("loading").hidden = true);
    return fail(String(e), "The URL's parameters are the options of `nca run`: model, size, speed, seed, view, plant, digit, digit-image, chimera, adversaries, adversary, canvas, dark, kiosk, scenario, monkey.");
  }
  $("loading").hidden = true;
}

main().catch((e) => fail(`the page could not load: ${e}`));
