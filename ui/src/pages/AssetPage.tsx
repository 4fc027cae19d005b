// One asset: its declaration, dependencies, partition health (bar or grid), one partition's
// detail (with its partition lineage), column lineage, stale partitions with their cause, the latest failure with its logs, materialization
// history with a chart, cost, freshness, checks with their latest results, and why automation did or
// did not request it.
import { useEffect, useMemo, useState } from "react";
import { api, assetPath, ok, type AssetDetail, type LogLine, type Materialization, type Run, type StatusReport, type Step } from "../api/client";
import { asFreshness, asWhy, type EventRecord, type Freshness } from "../api/types";
import { CostSection } from "../components/AssetCost";
import { BackfillDialog } from "../components/BackfillDialog";
import { ColumnLineageSection } from "../components/ColumnLineage";
import { PartitionLineagePanel } from "../components/PartitionLineage";
import { ErrorNote, FreshnessBadge, HealthBadge, Loading, Section, StatusBadge, Tags } from "../components/common";
import { HealthBar, type Grid } from "../components/HealthBar";
import { MaterializationChart } from "../components/MaterializationChart";
import { LogList } from "../components/LogList";
import { WhyTree } from "../components/WhyTree";
import { fmtBytes, fmtCount, fmtDuration, fmtSeconds, fmtTime, shortId } from "../lib/format";
import { useHealth } from "../lib/health";
import { readRunEvents, useLiveEvents } from "../lib/live";
import { assetHref, Link, navigate, useLocation, useTitle } from "../lib/router";
import { staleCauses, type Cause } from "../lib/stale";
import { throttle, useAsync } from "../lib/useAsync";

export function AssetPage({ assetKey }: { assetKey: string }) {
  useTitle(assetKey);
  const { query } = useLocation();
  const partition = query.get("partition");
  const path = assetPath(assetKey);
  const detail = useAsync(() => ok(api.GET("/api/v1/assets/{group}/{name}", { params: { path } })), [assetKey]);
  const status = useAsync(() => ok(api.GET("/api/v1/assets/{group}/{name}/partitions/status", { params: { path } })), [assetKey]);
  const history = useAsync(
    () => ok(api.GET("/api/v1/assets/{group}/{name}/materializations", { params: { path, query: { limit: 500 } } })),
    [assetKey],
  );
  const health = useHealth().of(assetKey);
  const [dialog, setDialog] = useState<{ from?: string; to?: string } | null>(null);

  // Live: this asset's events refresh its status and history.
  const refresh = useMemo(
    () =>
      throttle(() => {
        status.reload();
        history.reload();
      }, 800),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [assetKey],
  );
  useLiveEvents((r) => {
    if (r.event.asset === assetKey || (r.event.type.startsWith("run_") && r.event.type !== "run_queued")) refresh();
  });

  if (detail.error) return <ErrorNote error={detail.error} what={`Could not load ${assetKey}`} />;
  const d = detail.data;
  if (!d) return <Loading what={assetKey} />;

  return (
    <div className="asset-page">
      <header className="page-head">
        <div>
          <p className="crumbs">
            <Link to="/assets">Catalog</Link> / <Link to={`/assets?group=${d.group}`}>{d.group}</Link>
          </p>
          <h1>{d.key}</h1>
          <p className="badges">
            <span className="badge kind">{d.kind}</span> <HealthBadge headline={health.headline} />{" "}
            {health.freshness ? <FreshnessBadge state={health.freshness.state} /> : null}
          </p>
          {d.description ? <p className="lead">{d.description}</p> : null}
        </div>
        <div className="button-row">
          <button type="button" className="primary" onClick={() => setDialog({})}>
            Backfill…
          </button>
          <Link className="button" to={`/?select=${encodeURIComponent(d.key)}`}>
            Show in graph
          </Link>
        </div>
      </header>

      <Section title="Partitions" id="partitions">
        {status.error ? <ErrorNote error={status.error} /> : null}
        {status.data ? (
          <Partitions detail={d} report={status.data} onPick={(key) => navigate(assetHref(d.key, key), true)} />
        ) : (
          <Loading what="the partitions" />
        )}
        {partition !== null || (status.data && !status.data.partitioned) ? (
          <PartitionPanel detail={d} partition={partition} onBackfill={(key) => setDialog({ from: key, to: key })} />
        ) : null}
      </Section>

      {status.data && (status.data.stale?.count ?? 0) > 0 ? <StaleSection detail={d} report={status.data} /> : null}
      {status.data && status.data.failed.count > 0 ? <FailureSection asset={d.key} /> : null}

      <ColumnLineageSection asset={d.key} />

      <Section title="Materializations" id="materializations">
        {history.data ? (
          <>
            <MaterializationChart items={history.data.materializations} partitioned={d.partitions !== null && d.partitions !== undefined} />
            {history.data.materializations.length > 0 ? <MaterializationTable asset={d.key} items={history.data.materializations.slice(0, 20)} /> : null}
          </>
        ) : (
          <Loading what="the history" />
        )}
      </Section>

      <CostSection asset={d.key} />

      <div className="two-columns">
        <FreshnessSection detail={d} />
        <ChecksSection detail={d} runIds={(history.data?.materializations ?? []).map((m) => m.run_id).filter((r): r is string => !!r)} />
      </div>

      {d.automation ? <AutomationSection detail={d} partition={partition} /> : null}

      <div className="two-columns">
        <Section title="Declaration">
          <dl className="facts">
            <dt>File</dt>
            <dd>
              <code>{d.path}</code>
            </dd>
            <dt>Kind</dt>
            <dd>{d.kind}</dd>
            <dt>Partitions</dt>
            <dd>{d.partitions ?? "unpartitioned"}</dd>
            <dt>Code version</dt>
            <dd>
              <code>{d.code_version ?? "—"}</code>
              {d.code_version_error ? <span className="error-text"> {d.code_version_error}</span> : null}
            </dd>
            <dt>Automation</dt>
            <dd>{d.automation ? <code>{d.automation}</code> : "none"}</dd>
            <dt>Freshness</dt>
            <dd>{d.freshness ?? "no policy"}</dd>
            <dt>Owners</dt>
            <dd>{d.owners.length ? d.owners.join(", ") : "—"}</dd>
            <dt>Tags</dt>
            <dd>
              <Tags tags={d.tags} />
            </dd>
            <dt>IO manager</dt>
            <dd>{d.io_manager}</dd>
            <dt>Pool</dt>
            <dd>{d.pool ?? "—"}</dd>
            <dt>Backfill</dt>
            <dd>{d.backfill.replace("_", " ")}</dd>
          </dl>
        </Section>
        <Section title="Dependencies">
          <Deps title="Upstream" deps={d.upstream} />
          <Deps title="Downstream" deps={d.downstream} />
        </Section>
      </div>
      {dialog ? <BackfillDialog assets={[d.key]} initial={dialog.from ? { kind: "range", ...dialog } : undefined} onClose={() => setDialog(null)} /> : null}
    </div>
  );
}

function Deps({ title, deps }: { title: string; deps: AssetDetail["upstream"] }) {
  return (
    <>
      <h3>{title}</h3>
      {deps.length === 0 ? (
        <p className="muted">none</p>
      ) : (
        <ul className="deps">
          {deps.map((dep) => (
            <li key={dep.asset}>
              <Link to={assetHref(dep.asset)}>{dep.asset}</Link>{" "}
              <span className="muted small">
                {dep.mapping}
                {dep.declared ? "" : " (inferred)"}
              </span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** The bar, or for a two-dimensional asset the grid. */
function Partitions({ detail, report, onPick }: { detail: AssetDetail; report: StatusReport; onPick: (key: string) => void }) {
  const multi = detail.partitions?.startsWith("multi") ?? false;
  const grid = useAsync(async (): Promise<Grid | undefined> => {
    if (!multi) return undefined;
    const page = await ok(
      api.GET("/api/v1/assets/{group}/{name}/partitions", { params: { path: assetPath(detail.key), query: { limit: 200 } } }),
    );
    const first = page.partitions[0]?.key.split("|")[0];
    const rows = page.partitions.filter((p) => p.key.split("|")[0] === first).map((p) => p.key.split("|")[1] ?? p.key);
    return rows.length > 0 ? { rows } : undefined;
  }, [detail.key, multi]);
  if (!report.partitioned) {
    const state = report.failed.count ? "failed" : report.in_progress.count ? "in progress" : report.stale?.count ? "stale" : report.materialized.count ? "materialized" : "missing";
    return (
      <p>
        Unpartitioned: <strong data-testid="unpartitioned-state">{state}</strong>.
      </p>
    );
  }
  if (multi && grid.loading && !grid.data) return <Loading what="the grid" />;
  const pick = (index: number) => {
    ok(api.GET("/api/v1/assets/{group}/{name}/partitions", { params: { path: assetPath(detail.key), query: { cursor: String(index), limit: 1 } } })).then(
      (page) => page.partitions[0] && onPick(page.partitions[0].key),
      () => {},
    );
  };
  return <HealthBar asset={detail.key} report={report} grid={grid.data} onPick={pick} />;
}

/** One partition (or the unpartitioned asset): state, window, history, what it reads. */
function PartitionPanel({ detail, partition, onBackfill }: { detail: AssetDetail; partition: string | null; onBackfill: (key: string) => void }) {
  const path = assetPath(detail.key);
  const info = useAsync(
    () =>
      partition === null
        ? Promise.resolve(undefined)
        : ok(api.GET("/api/v1/assets/{group}/{name}/partitions/{key}", { params: { path: { ...path, key: partition } } })),
    [detail.key, partition],
  );
  if (partition === null) return null;
  if (info.error) return <ErrorNote error={info.error} what={`Partition ${partition}`} />;
  const p = info.data;
  if (!p) return <Loading what={`partition ${partition}`} />;
  return (
    <div className="partition-panel" data-testid="partition-panel">
      <div className="panel-head">
        <h3>
          Partition <code>{p.key}</code> <StatusBadge status={p.status} />
        </h3>
        <div className="button-row">
          <button type="button" onClick={() => onBackfill(p.key)}>
            Materialize this partition…
          </button>
          <Link className="button" to={assetHref(detail.key)}>
            Close
          </Link>
        </div>
      </div>
      <p className="muted small">
        #{fmtCount(p.index)}
        {p.start ? ` · window ${fmtTime(p.start)} → ${fmtTime(p.end ?? null)}` : ""}
      </p>
      <h4>Reads</h4>
      {p.upstream.length === 0 ? (
        <p className="muted">nothing upstream</p>
      ) : (
        <ul className="deps">
          {p.upstream.map((u) => (
            <li key={u.asset}>
              <Link to={assetHref(u.asset, u.partitions.length === 1 ? u.partitions[0] : undefined)}>{u.asset}</Link>{" "}
              {u.partitions.length === 0 ? "all of it" : u.partitions.length <= 3 ? u.partitions.join(", ") : `${u.partitions[0]} … ${u.partitions[u.partitions.length - 1]} (${u.partitions.length})`}{" "}
              <span className="muted small">{u.mapping}</span>
              {u.nonexistent.length ? <span className="error-text"> — does not exist: {u.nonexistent.join(", ")}</span> : null}
            </li>
          ))}
        </ul>
      )}
      {p.status === "materialized" ? <PartitionLineagePanel asset={detail.key} partition={partition} /> : null}
      <h4>History</h4>
      <MaterializationTable asset={detail.key} items={p.history} />
    </div>
  );
}

function MaterializationTable({ asset, items }: { asset: string; items: Materialization[] }) {
  if (items.length === 0) return <p className="muted">No materializations.</p>;
  return (
    <table className="compact">
      <thead>
        <tr>
          <th scope="col">Partition</th>
          <th scope="col">At</th>
          <th scope="col" className="num">
            Rows
          </th>
          <th scope="col" className="num">
            Bytes
          </th>
          <th scope="col" className="num">
            Duration
          </th>
          <th scope="col">Run</th>
          <th scope="col">Code version</th>
        </tr>
      </thead>
      <tbody>
        {items.map((m) => (
          <tr key={m.event_id}>
            <td>{m.partition ? <Link to={assetHref(asset, m.partition)}>{m.partition}</Link> : "—"}</td>
            <td>{fmtTime(m.at)}</td>
            <td className="num">{fmtCount(m.rows)}</td>
            <td className="num">{fmtBytes(m.bytes)}</td>
            <td className="num">{fmtDuration(m.duration_ms)}</td>
            <td>{m.run_id ? <Link to={`/runs/${m.run_id}`}>{shortId(m.run_id)}</Link> : "reported"}</td>
            <td>
              <code>{m.code_version}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The first stale partitions and why each is stale. */
function StaleSection({ detail, report }: { detail: AssetDetail; report: StatusReport }) {
  const stale = report.stale!;
  const causes = useAsync(async () => {
    let keys: (string | null)[];
    if (!report.partitioned) keys = [null];
    else {
      keys = [];
      for (const r of stale.ranges.slice(0, 5)) {
        const page = await ok(
          api.GET("/api/v1/assets/{group}/{name}/partitions", {
            params: { path: assetPath(detail.key), query: { cursor: String(r.start), limit: Math.min(5, r.end - r.start) } },
          }),
        );
        keys.push(...page.partitions.map((p) => p.key));
        if (keys.length >= 5) break;
      }
    }
    return Promise.all(keys.slice(0, 5).map(async (key) => ({ key, causes: await staleCauses(detail, key) })));
  }, [detail.key, JSON.stringify(stale.ranges.slice(0, 5))]);
  return (
    <Section title="Stale" id="stale">
      <p>
        <strong>{fmtCount(stale.count)}</strong> {report.partitioned ? "materialized partitions are" : "The asset is"} stale
        {report.partitioned
          ? `: ${stale.ranges
              .slice(0, 4)
              .map((r) => (r.first === r.last ? r.first : `${r.first} … ${r.last}`))
              .join(", ")}${stale.ranges.length > 4 ? ` and ${stale.ranges.length - 4} more ranges` : ""}`
          : ""}
        .
      </p>
      {causes.error ? <ErrorNote error={causes.error} /> : null}
      {causes.data ? (
        <ul className="causes" data-testid="stale-causes">
          {causes.data.map(({ key, causes }) => (
            <li key={key ?? "-"}>
              {key ? <Link to={assetHref(detail.key, key)}>{key}</Link> : "It"} is stale because:
              <ul>
                {causes.map((c: Cause, i) => (
                  <li key={i}>
                    <span className={`badge cause-${c.kind}`}>{c.kind}</span> {c.text}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      ) : (
        <Loading what="the causes" />
      )}
      {stale.count > 5 ? <p className="muted small">The first five are explained; the others share their causes or follow from them.</p> : null}
    </Section>
  );
}

/** The latest failed step of this asset: its error, and its log lines. */
function FailureSection({ asset }: { asset: string }) {
  const failure = useAsync(async () => {
    const runs = await ok(api.GET("/api/v1/runs", { params: { query: { status: "failed", limit: 20 } } }));
    for (const run of runs.runs.slice(0, 12)) {
      const d = await ok(api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: run.run_id } } }));
      const step = [...d.steps].reverse().find((s) => s.asset === asset && s.status === "failed");
      if (!step) continue;
      const logs = await ok(api.GET("/api/v1/runs/{run_id}/logs", { params: { path: { run_id: run.run_id }, query: { limit: 1000 } } }));
      const lines = logs.logs.filter((l) => l.asset === asset && (!step.partition || l.partition === step.partition));
      return { run: d.run, step, lines };
    }
    return null;
  }, [asset]);
  return (
    <Section title="Latest failure" id="failure">
      {failure.error ? <ErrorNote error={failure.error} /> : null}
      {failure.data === undefined ? <Loading what="the failure" /> : null}
      {failure.data === null ? <p className="muted">Partitions failed, but no recent failed run has a failed step of this asset.</p> : null}
      {failure.data ? <Failure run={failure.data.run} step={failure.data.step} lines={failure.data.lines} /> : null}
    </Section>
  );
}

function Failure({ run, step, lines }: { run: Run; step: Step; lines: LogLine[] }) {
  return (
    <div data-testid="failure">
      <p>
        {step.partition ? (
          <>
            Partition <code>{step.partition}</code>
          </>
        ) : (
          "The step"
        )}{" "}
        failed at {fmtTime(step.ended_at ?? null)} (attempt {step.attempt}) in run <Link to={`/runs/${run.run_id}`}>{shortId(run.run_id)}</Link>:
      </p>
      <pre className="error-block" data-testid="step-error">
        {step.error ?? run.error ?? "no error recorded"}
      </pre>
      <h3>Its log</h3>
      <LogList lines={lines} />
    </div>
  );
}

function FreshnessSection({ detail }: { detail: AssetDetail }) {
  const all = useAsync(() => ok(api.GET("/api/v1/freshness")), [detail.key]);
  const [changes, setChanges] = useState<EventRecord[]>([]);
  useLiveEvents(
    (r) => {
      if (r.event.asset === detail.key) {
        setChanges((c) => [r, ...c].slice(0, 20));
        all.reload();
      }
    },
    (t) => t === "freshness_changed",
  );
  const f: Freshness | undefined = all.data ? asFreshness(all.data.assets).find((a) => a.asset === detail.key) : undefined;
  return (
    <Section title="Freshness" id="freshness">
      {!detail.freshness ? (
        <p className="muted">No freshness policy.</p>
      ) : !f ? (
        all.data ? (
          <p className="muted">Not evaluated yet.</p>
        ) : (
          <Loading what="freshness" />
        )
      ) : (
        <>
          <p>
            <FreshnessBadge state={f.state} /> {f.since ? <>since {fmtTime(f.since)}</> : null}
          </p>
          <p>{f.reason}</p>
          <dl className="facts">
            <dt>Policy</dt>
            <dd>{detail.freshness}</dd>
            <dt>Data time</dt>
            <dd>{fmtTime(f.data_time)}</dd>
            <dt>Lag</dt>
            <dd>{fmtSeconds(f.lag_seconds)}</dd>
            <dt>Overdue by</dt>
            <dd>{fmtSeconds(f.overdue_seconds)}</dd>
            <dt>Fresh until</dt>
            <dd>{fmtTime(f.fresh_until)}</dd>
            <dt>Evaluated</dt>
            <dd>{fmtTime(f.evaluated_at)}</dd>
            {f.missing.length ? (
              <>
                <dt>Late partitions</dt>
                <dd>{f.missing.slice(0, 10).join(", ") + (f.missing.length > 10 ? ` and ${f.missing.length - 10} more` : "")}</dd>
              </>
            ) : null}
          </dl>
          <h3>History</h3>
          {changes.length === 0 ? (
            <p className="muted small">
              The state has been {f.state} since {fmtTime(f.since)}; changes while this page is open are listed here.
            </p>
          ) : (
            <ol className="timeline">
              {changes.map((c) => (
                <li key={c.id}>
                  {fmtTime(c.timestamp)}: <strong>{String(c.event.state ?? c.event.to ?? "changed")}</strong> {String(c.event.reason ?? "")}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </Section>
  );
}

interface CheckResult {
  check: string;
  partition: string | null;
  passed: boolean;
  severity: string;
  metadata: Record<string, unknown>;
  at: number;
  run: string;
}

/** Declared checks, each with its latest result in the asset's latest runs. */
function ChecksSection({ detail, runIds }: { detail: AssetDetail; runIds: string[] }) {
  const recent = [...new Set(runIds)].slice(0, 3);
  const results = useAsync(async () => {
    const latest = new Map<string, CheckResult>();
    for (const run of recent) {
      for (const r of await readRunEvents(run)) {
        const e = r.event;
        if (e.type !== "check_evaluation" || e.asset !== detail.key) continue;
        const name = String(e.check);
        const prev = latest.get(name);
        if (!prev || prev.at < r.timestamp)
          latest.set(name, {
            check: name,
            partition: (e.partition as string | null) ?? null,
            passed: Boolean(e.passed),
            severity: String(e.severity),
            metadata: (e.metadata as Record<string, unknown>) ?? {},
            at: r.timestamp,
            run,
          });
      }
    }
    return latest;
  }, [detail.key, recent.join(",")]);
  return (
    <Section title="Checks" id="checks">
      {detail.checks.length === 0 ? (
        <p className="muted">No checks.</p>
      ) : (
        <table className="compact">
          <thead>
            <tr>
              <th scope="col">Check</th>
              <th scope="col">Severity</th>
              <th scope="col">Latest result</th>
            </tr>
          </thead>
          <tbody>
            {detail.checks.map((c) => {
              const r = results.data?.get(c.name);
              return (
                <tr key={c.name}>
                  <td>
                    <code>{c.name}</code>
                    <div className="muted small">
                      {c.description}
                      {c.blocking ? " · blocking" : ""}
                    </div>
                  </td>
                  <td>{c.severity}</td>
                  <td>
                    {r ? (
                      <>
                        <StatusBadge status={r.passed ? "passed" : "failed"} /> {r.partition ?? ""}{" "}
                        <span className="muted small">
                          {Object.entries(r.metadata)
                            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
                            .join(" ")}
                        </span>
                      </>
                    ) : results.loading ? (
                      "…"
                    ) : (
                      <span className="muted">not run recently</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function AutomationSection({ detail, partition }: { detail: AssetDetail; partition: string | null }) {
  const [asked, setAsked] = useState(partition ?? "");
  useEffect(() => setAsked(partition ?? ""), [partition]);
  const why = useAsync(
    () =>
      ok(
        api.GET("/api/v1/automation/assets/{group}/{name}", {
          params: { path: assetPath(detail.key), query: partition ? { partition } : {} },
        }),
      ).then(asWhy),
    [detail.key, partition],
  );
  return (
    <Section title="Automation" id="automation">
      <div className="automation-head">
        Condition <code>{detail.automation}</code>.{" "}
        {detail.partitions ? (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              navigate(assetHref(detail.key, asked || null), true);
            }}
          >
            <label>
              Why for partition{" "}
              <input value={asked} onChange={(e) => setAsked(e.target.value)} placeholder="a partition key" size={14} />
            </label>{" "}
            <button type="submit">Explain</button>
          </form>
        ) : null}
      </div>
      {why.error ? <p className="muted">{why.error.message}</p> : why.data ? <WhyTree why={why.data} /> : <Loading what="the explanation" />}
    </Section>
  );
}
