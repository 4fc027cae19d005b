// What the browser tests share: a real `strata serve` on a copy of a repository, Chromium driven
// by playwright-core (the system's Chromium: no browser download), console errors collected,
// screenshots saved as artifacts.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "..", "..");

/** Where screenshots go (outside git): $STRATA_ARTIFACTS, else tests/browser/artifacts. */
export const artifacts = process.env.STRATA_ARTIFACTS ?? join(here, "artifacts");
mkdirSync(artifacts, { recursive: true });

/** The debug `strata` binary cargo built: $STRATA_BIN, else $CARGO_TARGET_DIR or target/. */
export function strataBinary() {
  const candidates = [
    process.env.STRATA_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, "debug", "strata"),
    join(root, "target", "debug", "strata"),
  ].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`no strata binary (looked at ${candidates.join(", ")}): run \`cargo build --bin strata\` first`);
  return found;
}

export function chromiumPath() {
  const path = process.env.CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(path)) throw new Error(`no Chromium at ${path}: install Debian's \`chromium\` package or set CHROMIUM`);
  return path;
}

/** A copy of the example repository (strata.toml, assets, scripts, data) in a temporary folder. */
export function copyExample({ tickInterval = "1h" } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "strata-ui-example-"));
  for (const part of ["strata.toml", "assets", "scripts", "data"]) cpSync(join(root, part), join(dir, part), { recursive: true });
  // The daemon ticks once at start; the tests launch everything else themselves.
  const toml = join(dir, "strata.toml");
  writeFileSync(toml, readFileSync(toml, "utf8").replace(/tick_interval = "[^"]*"/, `tick_interval = "${tickInterval}"`));
  return dir;
}

/** A repository from `files` (path → text). */
export function makeRepo(files) {
  const dir = mkdtempSync(join(tmpdir(), "strata-ui-repo-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** Starts `strata serve` on `repo` at a free port; resolves with `{url, stop}` (`stop` removes
 * the repository unless `keep`). */
export async function serve(repo, { keep = false } = {}) {
  const child = spawn(strataBinary(), ["--repo", repo, "serve", "--bind", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`strata serve did not start in 60 s: ${err}`)), 60_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/[0-9.]+:\d+/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[0]);
      }
    });
    child.on("exit", (code) => reject(new Error(`strata serve exited with ${code}: ${err}`)));
  });
  return {
    url,
    repo,
    logs: () => err,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      if (!keep) rmSync(repo, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Serves the UI from a built bundle ($STRATA_UI_DIR, e.g. ui/dist after `npm run build`) instead
 * of the one embedded in the binary, so that a UI change can be tested without rebuilding
 * `strata`. Like the server, a path that is not a file of the bundle answers `index.html`; the
 * API goes to the server untouched.
 */
async function serveUiFrom(page, dir) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json" };
  await page.route(
    (url) => !url.pathname.startsWith("/api/") && !url.pathname.startsWith("/metrics") && (url.hostname === "127.0.0.1" || url.hostname === "localhost"),
    (route) => {
      const path = new URL(route.request().url()).pathname;
      let file = join(dir, normalize(path).replace(/^([/\\]|\.\.)+/, ""));
      if (path === "/" || !existsSync(file) || !statSync(file).isFile()) file = join(dir, "index.html");
      route.fulfill({ status: 200, contentType: types[extname(file)] ?? "application/octet-stream", body: readFileSync(file) });
    },
  );
}

/** A page that records console errors and uncaught exceptions in `page.problems`. */
export async function newPage(browser, { width = 1400, height = 900 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  if (process.env.STRATA_UI_DIR) await serveUiFrom(page, resolve(process.env.STRATA_UI_DIR));
  page.problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => page.problems.push(`uncaught: ${e.message}`));
  return page;
}

export async function screenshot(page, name, options = {}) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, ...options });
  return path;
}

/** GET or POST JSON against the server. */
export async function apiJson(server, path, body) {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}
