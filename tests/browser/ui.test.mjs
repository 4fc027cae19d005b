// The web UI in a real browser against a real `strata serve`: the example repository's graph,
// partition bar, a backfill launched from the dialog and watched to the end, what it cost (the
// cost dashboard, the asset's cost, the graph by cost, the next backfill's estimate), a failing
// asset's error and logs, a stale asset's cause, and an alert rule created in the UI that
// fires. No console errors anywhere.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { apiJson, copyExample, launchBrowser, makeRepo, newPage, screenshot, serve } from "./harness.mjs";

/** Money the way `strata costs` prints it (and the UI shows it). */
function money(amount, currency) {
  const digits = amount === 0 || Math.abs(amount) >= 0.01 ? 2 : Math.min(Math.ceil(-Math.log10(Math.abs(amount))) + 1, 6);
  const sign = { USD: "$", EUR: "€", GBP: "£" }[currency];
  return sign ? `${sign}${amount.toFixed(digits)}` : `${amount.toFixed(digits)} ${currency}`;
}

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Runs `body` with a fresh page and fails on any console error it logged. */
async function withPage(name, body, viewport) {
  const page = await newPage(browser, viewport);
  try {
    await body(page);
  } catch (e) {
    await screenshot(page, `${name}-failure`, { fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await page.close();
  }
  assert.deepEqual(page.problems, [], `${name}: the page logged errors`);
}

describe("the example repository", () => {
  let server;
  before(async () => {
    server = await serve(copyExample());
  });
  after(async () => {
    await server?.stop();
  });

  test("the graph renders every asset, coloured by health", async () => {
    const lineage = await apiJson(server, "/lineage");
    await withPage("graph", async (page) => {
      await page.goto(server.url + "/");
      await page.locator("svg.graph .node").first().waitFor();
      const keys = await page.locator("svg.graph .node").evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-key")));
      assert.deepEqual(keys.sort(), lineage.nodes.map((n) => n.key).sort());
      // Health arrives after the layout; every node ends up with a known state.
      await page.waitForFunction(() => [...document.querySelectorAll("svg.graph .node")].every((n) => n.getAttribute("data-health") !== "unknown"));
      // Search dims what does not match; a click selects.
      await page.getByLabel("Search assets").fill("delays");
      await page.locator('svg.graph .node[data-key="flights/daily_delays"]').click();
      await page.getByRole("complementary", { name: "Selection" }).getByRole("link", { name: "flights/daily_delays" }).waitFor();
      await page.getByLabel("Search assets").fill("");
      await screenshot(page, "graph");
    });
  });

  test("the asset page shows the partition bar", async () => {
    await withPage("asset", async (page) => {
      await page.goto(server.url + "/assets/flights/clean_flights");
      await page.getByRole("heading", { name: "flights/clean_flights" }).waitFor();
      const bar = page.getByTestId("health-bar");
      await bar.locator("canvas").waitFor();
      assert.match(await bar.locator("canvas").getAttribute("aria-label"), /365 in all/);
      await bar.locator('li[data-state="missing"][data-count="365"]').waitFor();
      await screenshot(page, "asset-before");
    });
  });

  test("a week backfilled from the dialog is watched to success and the bar turns materialized", async () => {
    await withPage("backfill", async (page) => {
      await page.goto(server.url + "/assets/flights/clean_flights");
      await page.getByRole("button", { name: "Backfill…" }).click();
      const dialog = page.getByRole("dialog", { name: "Backfill flights/clean_flights" });
      await dialog.waitFor();
      // The keyboard: focus starts in the dialog; Escape closes it.
      assert.equal(await page.evaluate(() => document.activeElement?.closest("dialog") !== null), true);
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });

      await page.getByRole("button", { name: "Backfill…" }).click();
      await dialog.waitFor();
      await page.keyboard.press("Space"); // "Include everything upstream", focused first
      assert.equal(await dialog.getByLabel("Include everything upstream").isChecked(), true);
      await dialog.getByLabel("From").fill("2013-01-01");
      await dialog.getByLabel("To (inclusive)").fill("2013-01-07");
      // The dry run: 7 days of raw/flights and flights/clean_flights, and the unpartitioned source.
      await dialog.getByTestId("dry-run-summary").filter({ hasText: "15 partitions" }).waitFor();
      await screenshot(page, "backfill-dialog");
      await dialog.getByLabel("To (inclusive)").press("Enter");
      const progress = dialog.getByTestId("backfill-progress");
      await progress.waitFor();
      await dialog.locator('[data-testid="backfill-progress"][data-status="completed"]').waitFor({ timeout: 180_000 });
      await screenshot(page, "backfill-done");
      await dialog.getByRole("button", { name: "Close" }).click();
      await dialog.waitFor({ state: "detached" });
      // The bar, refreshed by the event stream: the week is materialized.
      await page.waitForFunction(
        () => Number(document.querySelector('[data-testid="health-bar"] li[data-state="materialized"]')?.getAttribute("data-count")) >= 7,
        null,
        { timeout: 30_000 },
      );
      await screenshot(page, "asset");
      await screenshot(page, "asset-full", { fullPage: true });

      // The run: its steps in the timeline and its logs.
      const runs = await apiJson(server, "/runs?limit=5");
      const run = runs.runs.find((r) => r.backfill_id);
      await page.goto(`${server.url}/runs/${run.run_id}`);
      await page.getByRole("list", { name: "Steps over time" }).getByRole("listitem").first().waitFor();
      assert.equal(await page.getByRole("list", { name: "Steps over time" }).getByRole("listitem").count(), 15);
      await page.getByTestId("logs").filter({ hasText: "flights rows on 2013-01-07" }).waitFor();
      await screenshot(page, "run");
    });
  });

  test("the week's cost: the dashboard, the asset, the graph and the next backfill's estimate", async () => {
    await withPage("costs", async (page) => {
      // The dashboard by team: the same total as `strata costs --by tag:team` (the API's).
      await page.goto(server.url + "/costs");
      await page.getByTestId("cost-table").waitFor();
      await page.getByLabel("Group by").selectOption("tag:team");
      await page.locator('[data-testid="cost-table"] tr[data-key="team=ops"]').waitFor();
      const before = await apiJson(server, "/costs?by=tag:team");
      const shown = await page.getByTestId("cost-total").innerText();
      const after = await apiJson(server, "/costs?by=tag:team");
      assert.ok(before.total.total > 0, JSON.stringify(before.total));
      // Storage accrues by the second: the figure is the API's just before or just after.
      assert.ok([money(before.total.total, before.currency), money(after.total.total, after.currency)].includes(shown), `${shown} vs ${before.total.total}`);
      const rows = await page.locator('[data-testid="cost-table"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-key")));
      assert.deepEqual(rows, before.rows.map((r) => r.key));
      await page.getByRole("img", { name: /Cost per day/ }).waitFor();
      await screenshot(page, "costs", { fullPage: true });

      // The asset's own cost.
      await page.goto(server.url + "/assets/flights/clean_flights");
      const cost = page.getByTestId("asset-cost");
      await cost.waitFor();
      assert.match(await cost.innerText(), /Total\s+\$\d/);
      await page.locator("#cost").scrollIntoViewIfNeeded();
      await screenshot(page, "asset-cost");

      // The next week's backfill: estimated from the first week's cost.
      await page.getByRole("button", { name: "Backfill…" }).click();
      const dialog = page.getByRole("dialog", { name: "Backfill flights/clean_flights" });
      await dialog.getByLabel("From").fill("2013-01-08");
      await dialog.getByLabel("To (inclusive)").fill("2013-01-14");
      await dialog.getByTestId("dry-run-cost").filter({ hasText: /Estimated cost: \$[0-9.]+ \(from 7 of 7 asset partitions' history\)/ }).waitFor();
      await screenshot(page, "backfill-estimate");
      await dialog.getByRole("button", { name: "Cancel" }).click();

      // The graph coloured by cost: assets that ran have one.
      await page.goto(server.url + "/");
      await page.locator("svg.graph .node").first().waitFor();
      await page.getByRole("radio", { name: "cost" }).check();
      await page.getByTestId("cost-legend").waitFor();
      await page.locator('svg.graph.by-cost .node[data-key="flights/clean_flights"][data-cost]').waitFor();
      await screenshot(page, "graph-cost");
    });
  });

  test("why a partition was or was not requested", async () => {
    await withPage("why", async (page) => {
      await page.goto(`${server.url}/automation?asset=${encodeURIComponent("flights/clean_flights")}&partition=2013-01-08`);
      await page.getByTestId("why-verdict").filter({ hasText: "2013-01-08 was not requested" }).waitFor();
      await screenshot(page, "automation");
    });
  });

  test("a stale asset shows why", async () => {
    // The whole example for the same week (over the API), so that assets downstream of
    // flights/clean_flights are materialized too. The monthly and weekly assets fail: their
    // windows need days past the week (a realistic red in the graph's picture).
    const created = await apiJson(server, "/backfills", {
      selection: "*",
      partitions: { kind: "range", from: "2013-01-01", to: "2013-01-07" },
    });
    assert.ok(created.backfill_id, JSON.stringify(created));
    const deadline = Date.now() + 240_000;
    let backfill;
    do {
      await new Promise((r) => setTimeout(r, 1000));
      backfill = (await apiJson(server, `/backfills/${created.backfill_id}`)).backfill;
    } while (backfill.status === "requested" && Date.now() < deadline);
    assert.notEqual(backfill.status, "requested", "the backfill did not end in time");
    assert.ok(backfill.completed >= 70, JSON.stringify(backfill));

    // A new query for flights/clean_flights: the materialized week was computed by the old code.
    const file = join(server.repo, "assets", "flights", "clean_flights.sql");
    writeFileSync(file, readFileSync(file, "utf8").replace("dep_delay > 15 AS delayed_15", "dep_delay > 20 AS delayed_15"));
    const reload = await apiJson(server, "/reload", {});
    assert.equal(reload.loaded, true);
    await withPage("stale", async (page) => {
      await page.goto(server.url + "/assets/flights/clean_flights");
      const causes = page.getByTestId("stale-causes");
      await causes.filter({ hasText: "the code changed" }).waitFor({ timeout: 30_000 });
      assert.match(await causes.innerText(), /2013-01-01 is stale because/);
      await screenshot(page, "stale");
      // Downstream, flights/daily_delays is stale because what it read is.
      await page.goto(server.url + "/assets/flights/daily_delays");
      await page.getByTestId("stale-causes").filter({ hasText: "its input flights/clean_flights 2013-01-01 is itself stale" }).waitFor({ timeout: 30_000 });
      // The graph now: the week's assets partly materialized, flights/clean_flights stale.
      await page.goto(server.url + "/");
      await page.waitForFunction(() => document.querySelector('svg.graph .node[data-key="flights/clean_flights"]')?.getAttribute("data-health") === "stale");
      await screenshot(page, "graph-after");
    });
  });

  test("a column's sources are highlighted in the column lineage", async () => {
    await withPage("column-lineage", async (page) => {
      await page.goto(server.url + "/assets/flights/daily_delays");
      const view = page.getByTestId("column-lineage");
      await view.waitFor({ timeout: 30_000 });
      await view.getByRole("button", { name: "avg_dep_delay" }).click();
      const explanation = page.getByTestId("column-explanation");
      assert.match(await explanation.innerText(), /avg_dep_delay comes from flights\/clean_flights\.dep_delay \(aggregate\)/);
      const sources = await view.getByTestId("column-source").allInnerTexts();
      assert.deepEqual(sources.map((s) => s.split(" ")[0]), ["dep_delay"]);
      await screenshot(page, "column-lineage");
    });
  });
});

describe("a repository with a failing asset", () => {
  let server;
  before(async () => {
    server = await serve(
      makeRepo({
        "strata.toml": '[project]\nname = "failing"\n\n[daemon]\ntick_interval = "1h"\n',
        "assets/demo/source_rows.sql": '/*---\ndescription = "Three rows"\n---*/\nSELECT 1 AS v UNION ALL SELECT 2 UNION ALL SELECT 3\n',
        "assets/demo/broken.toml": [
          'description = "Reads demo/source_rows and always fails"',
          `command = ["python3", "-c", "import sys; print('reading the inputs', file=sys.stderr); print('the upstream file is corrupt', file=sys.stderr); sys.exit(3)"]`,
          'output = "csv"',
          '[deps."demo/source_rows"]',
          "",
        ].join("\n"),
        "assets/demo/slow.toml": [
          'description = "Takes a minute"',
          `command = ["python3", "-c", "import sys, time; print('working', file=sys.stderr, flush=True); time.sleep(60)"]`,
          'output = "csv"',
          "",
        ].join("\n"),
      }),
    );
  });
  after(async () => {
    await server?.stop();
  });

  test("a failing asset shows its error and logs", async () => {
    await withPage("failure", async (page) => {
      await page.goto(server.url + "/assets/demo/broken");
      await page.getByRole("button", { name: "Backfill…" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByLabel("Include everything upstream").check();
      await dialog.getByTestId("dry-run-summary").filter({ hasText: "2 partitions" }).waitFor();
      await dialog.getByRole("button", { name: /^Launch/ }).click();
      await dialog.locator('[data-testid="backfill-progress"][data-status="failed"]').waitFor({ timeout: 60_000 });
      await dialog.getByRole("button", { name: "Close" }).click();

      // The asset page: the failed step's error and its log lines.
      const failure = page.getByTestId("failure");
      await failure.waitFor({ timeout: 30_000 });
      assert.match(await failure.getByTestId("step-error").innerText(), /exited with status 3/);
      await failure.getByTestId("logs").filter({ hasText: "the upstream file is corrupt" }).waitFor();
      await screenshot(page, "failure-asset");

      // Its run: the failed step and the logs.
      await failure.getByRole("link", { name: /^[0-9a-f]{8}$/ }).click();
      await page.getByTestId("run-error").waitFor();
      assert.match(await page.getByTestId("step-error").first().innerText(), /the upstream file is corrupt/);
      await page.getByTestId("logs").filter({ hasText: "reading the inputs" }).waitFor();
      await screenshot(page, "failure-run");
    });
  });

  test("a running run is canceled from its page", async () => {
    const created = await apiJson(server, "/backfills", { selection: "demo/slow" });
    await withPage("cancel", async (page) => {
      await page.goto(`${server.url}/runs/${created.run_id}`);
      const cancel = page.getByRole("button", { name: "Cancel run" });
      await cancel.waitFor();
      await page.getByRole("list", { name: "Steps over time" }).getByRole("listitem").first().waitFor();
      await cancel.click();
      await page.locator(".badges .badge.s-canceled").waitFor({ timeout: 60_000 });
      await screenshot(page, "canceled");
    });
  });
});

describe("alert rules", () => {
  let server;
  before(async () => {
    // The daemon evaluates the rules at every tick: a short one, so a failure fires soon. The
    // channel's webhook needs no listener: a failed delivery is recorded, and the feed shows
    // the firing either way.
    server = await serve(
      makeRepo({
        "strata.toml": [
          '[project]\nname = "alerting"\n\n[daemon]\ntick_interval = "1s"\n',
          '[alerts.channels.ops]\nkind = "webhook"\nurl = "http://127.0.0.1:9999/hook"\n',
        ].join("\n"),
        "assets/demo/broken.toml": [
          'description = "Always fails"',
          `command = ["python3", "-c", "import sys; print('the upstream file is corrupt', file=sys.stderr); sys.exit(3)"]`,
          'output = "csv"',
          "",
        ].join("\n"),
      }),
    );
  });
  after(async () => {
    await server?.stop();
  });

  test("a rule made in the alerts page fires when its asset fails", async () => {
    await withPage("alerts", async (page) => {
      await page.goto(server.url + "/alerts");
      const form = page.getByRole("form", { name: "New rule" });
      await form.getByLabel("Name").fill("broken-runs");
      await form.getByLabel("When").selectOption("run_failed");
      await form.getByLabel("Assets").fill("demo/broken");
      await form.getByRole("checkbox", { name: /ops/ }).check();
      await form.getByRole("button", { name: "Create rule" }).click();
      const rule = page.locator('[data-testid="alert-rules"] tr[data-rule="broken-runs"]');
      await rule.waitFor();
      assert.match(await rule.innerText(), /api/);

      // A test delivery: its result per channel, delivered or not.
      await rule.getByRole("button", { name: "Test broken-runs" }).click();
      await rule.getByTestId("alert-test-result").filter({ hasText: "ops" }).waitFor({ timeout: 30_000 });

      // The asset fails; at a later tick the rule fires, and the feed shows it.
      const created = await apiJson(server, "/backfills", { selection: "demo/broken" });
      assert.ok(created.run_id, JSON.stringify(created));
      const firing = page.locator('[data-testid="alert-feed"] tr[data-state="firing"][data-rule="broken-runs"]');
      await firing.waitFor({ timeout: 60_000 });
      await rule.getByText("firing").waitFor({ timeout: 30_000 });
      await screenshot(page, "alerts", { fullPage: true });
    });
  });
});
