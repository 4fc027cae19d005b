// First render of the web UI on big inputs, in headless Chromium against a real `strata serve`:
// the asset graph of a 2,000-asset lineage, and the partition health bar of an asset with
// 1,000,000 hourly partitions (90% materialized, every 5,000th missing: ~180 ranges).
//
//   node bench/ui/run.mjs            (after `npm ci` in tests/browser and `cargo build --bin strata`)
//
// Settings: ASSETS (2000), PARTITIONS (1000000), RUNS (5, the median is reported), STRATA_BIN,
// BENCH_UI_WORK (a folder to keep the generated repositories in and reuse).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchBrowser, root, screenshot, serve, strataBinary } from "../../tests/browser/harness.mjs";

const assets = Number(process.env.ASSETS ?? 2000);
const partitions = Number(process.env.PARTITIONS ?? 1_000_000);
const runs = Number(process.env.RUNS ?? 5);
const bin = strataBinary();
const log = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function makeRepos() {
  // BENCH_UI_WORK=DIR keeps the repositories there, and reuses them when they exist.
  const work = process.env.BENCH_UI_WORK ?? mkdtempSync(join(tmpdir(), "strata-bench-ui-"));
  if (existsSync(join(work, "status", "strata.toml"))) return work;
  const make = join(root, "bench", "api", "make_repos.py");
  log(`generating a ${assets}-asset layered graph`);
  execFileSync("python3", [make, "lineage", join(work, "lineage"), String(assets)]);
  log(`generating an asset with ${partitions} hourly partitions, 90% reported materialized but every 5,000th`);
  execFileSync("python3", [make, "status", join(work, "status"), String(partitions)]);
  // Seeding as bench/api/run.sh does: `strata report` in batches of 20,000 keys.
  execFileSync(
    "python3",
    [
      "-c",
      `
import datetime, subprocess, sys
bin, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = datetime.datetime(1910, 1, 1)
keys = [(start + datetime.timedelta(hours=h)).strftime("%Y-%m-%d-%H:%M") for h in range(n * 9 // 10) if h % 5000 != 4999]
for i in range(0, len(keys), 20000):
    args = [bin, "--repo", root, "report", "bench/hourly"]
    for k in keys[i:i + 20000]:
        args += ["--partition", k]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
`,
      bin,
      join(work, "status"),
      String(partitions),
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  return work;
}

/** Waits for `mark` on `page` and reads the timings since its navigation started. */
function timings(page, mark, apiPath) {
  return page.evaluate(
    ([mark, apiPath]) =>
      new Promise((resolve) => {
        const done = () => {
          const entry = performance.getEntriesByName(mark)[0];
          if (!entry) return false;
          const api = performance
            .getEntriesByType("resource")
            .filter((r) => r.name.includes(apiPath))
            .map((r) => r.responseEnd - r.startTime);
          const marks = Object.fromEntries(performance.getEntriesByType("mark").map((m) => [m.name, m.startTime]));
          const paint = performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? 0;
          resolve({ at: entry.startTime, detail: entry.detail, apiMs: Math.max(0, ...api), marks, paint });
          return true;
        };
        if (done()) return;
        const timer = setInterval(() => done() && clearInterval(timer), 5);
      }),
    [mark, apiPath],
  );
}

/** Opens `url` in a fresh context (cold caches and storage) and waits for `mark`. */
async function firstRender(browser, url, mark, apiPath) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(url);
  return { page, context, errors, ...(await timings(page, mark, apiPath)) };
}

/** Median frame times while panning (20 drags) and zooming (20 wheel steps) the whole graph. */
function interaction(page) {
  return page.evaluate(async () => {
    const svg = document.querySelector("svg.graph");
    const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
    const measure = async (step) => {
      const times = [];
      let last = await frame();
      for (let i = 0; i < 20; i++) {
        step(i);
        const now = await frame();
        times.push(now - last);
        last = now;
      }
      return times.sort((a, b) => a - b)[10];
    };
    const pan = await measure((i) => {
      const x = 600 + (i % 2 ? 40 : -40);
      svg.dispatchEvent(new PointerEvent("pointerdown", { clientX: 600, clientY: 400, button: 0, bubbles: true }));
      svg.dispatchEvent(new PointerEvent("pointermove", { clientX: x, clientY: 400, bubbles: true }));
      svg.dispatchEvent(new PointerEvent("pointerup", { clientX: x, clientY: 400, bubbles: true }));
    });
    const zoom = await measure((i) =>
      svg.dispatchEvent(new WheelEvent("wheel", { deltaY: i % 2 ? -100 : 100, clientX: 600, clientY: 400, bubbles: true, cancelable: true })),
    );
    return { pan, zoom };
  });
}

let frames;
const work = makeRepos();
const browser = await launchBrowser();
const lineage = await serve(join(work, "lineage"), { keep: true });
const status = await serve(join(work, "status"), { keep: true });
try {
  // Warm the server's caches once (its first lineage and status answers are computed).
  await fetch(`${lineage.url}/api/v1/lineage`);
  await fetch(`${status.url}/api/v1/assets/bench/hourly/partitions/status`);

  const graph = [];
  for (let i = 0; i < runs; i++) {
    const r = await firstRender(browser, lineage.url + "/", "strata:graph-rendered", "/api/v1/lineage");
    const nodes = await r.page.locator("svg.graph .node").count();
    if (nodes !== assets) throw new Error(`the graph shows ${nodes} nodes, not ${assets}`);
    if (i === 0) await screenshot(r.page, "bench-graph-2000");
    const laidOut = r.marks["strata:graph-layout"] ?? r.at;
    if (i === 0) frames = await interaction(r.page);
    // A second load in the same browser: the layout is kept in its storage.
    await r.page.reload();
    const again = await timings(r.page, "strata:graph-rendered", "/api/v1/lineage");
    graph.push({ total: r.at, layout: r.detail.layoutMs, api: r.apiMs, render: r.at - laidOut, paint: r.paint, warm: again.at, errors: r.errors.length });
    await r.context.close();
    log(
      `graph ${i + 1}/${runs}: ${Math.round(r.at)} ms (first paint ${Math.round(r.paint)} ms, layout ${Math.round(r.detail.layoutMs)} ms, ` +
        `nodes rendered ${Math.round(r.at - laidOut)} ms after it); reloaded ${Math.round(graph[i].warm)} ms`,
    );
  }
  const bar = [];
  for (let i = 0; i < runs; i++) {
    const r = await firstRender(browser, status.url + "/assets/bench/hourly", "strata:health-bar-drawn", "/partitions/status");
    if (i === 0) await screenshot(r.page, "bench-bar-1000000");
    bar.push({ total: r.at, draw: r.detail.drawMs, api: r.apiMs, partitions: r.detail.partitions, errors: r.errors.length });
    await r.context.close();
    log(`bar ${i + 1}/${runs}: ${Math.round(r.at)} ms (drawing ${r.detail.drawMs.toFixed(1)} ms)`);
  }
  const version = execFileSync(bin, ["--version"]).toString().trim();
  const chromiumVersion = browser.version();
  console.log(`${version} (${bin.includes("release") ? "release" : "debug"} build), Chromium ${chromiumVersion} headless, 1400x900, median of ${runs} cold page loads\n`);
  console.log("| first render | page load to painted | of which the API answer | of which layout / drawing |");
  console.log("|---|---:|---:|---:|");
  const ms = (x) => `${Math.round(x)} ms`;
  console.log(`| graph of ${assets.toLocaleString("en-US")} assets | ${ms(median(graph.map((g) => g.total)))} | ${ms(median(graph.map((g) => g.api)))} | ${ms(median(graph.map((g) => g.layout)))} (dagre, in a worker) |`);
  console.log(`| the same graph reloaded (layout kept in the browser's storage) | ${ms(median(graph.map((g) => g.warm)))} | | 0 ms |`);
  console.log(`| health bar of ${bar[0].partitions.toLocaleString("en-US")} partitions | ${ms(median(bar.map((b) => b.total)))} | ${ms(median(bar.map((b) => b.api)))} | ${median(bar.map((b) => b.draw)).toFixed(1)} ms (canvas) |`);
  console.log(
    `\nGraph: first paint of the page ${ms(median(graph.map((g) => g.paint)))}; the 2,000 nodes are in the DOM and painted ` +
      `${ms(median(graph.map((g) => g.render)))} after the layout arrives.`,
  );
  console.log(`Interaction on the whole 2,000-asset graph: median frame ${ms(frames.pan)} while panning, ${ms(frames.zoom)} while zooming.`);
  const errors = graph.concat(bar).reduce((n, r) => n + r.errors, 0);
  if (errors) console.log(`\n${errors} console errors`);
} finally {
  await lineage.stop();
  await status.stop();
  await browser.close();
  if (!process.env.BENCH_UI_WORK) rmSync(work, { recursive: true, force: true });
}
