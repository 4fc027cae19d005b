// Runs, newest first, page by page, with backfills and their progress; kept current by the
// event stream.
import { useMemo, useState } from "react";
import { api, ok, type Run } from "../api/client";
import { ErrorNote, Loading, Section, StatusBadge } from "../components/common";
import { fmtCount, fmtDuration, fmtTime, shortId } from "../lib/format";
import { useLiveEvents } from "../lib/live";
import { Link, navigate, useLocation, useTitle } from "../lib/router";
import { throttle, useAsync } from "../lib/useAsync";

const STATUSES = ["", "queued", "started", "succeeded", "failed", "canceled"];

export function runDuration(run: Pick<Run, "started_at" | "ended_at">, now = Date.now()): number | null {
  if (!run.started_at) return null;
  const end = run.ended_at ? new Date(run.ended_at).getTime() : now;
  return end - new Date(run.started_at).getTime();
}

export function RunsPage() {
  useTitle("Runs");
  const { query } = useLocation();
  const status = query.get("status") ?? "";
  const cursor = query.get("cursor") ?? undefined;
  const backfill = query.get("backfill") ?? undefined;
  const runs = useAsync(
    () =>
      ok(
        api.GET("/api/v1/runs", {
          params: { query: { limit: 50, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}), ...(backfill ? { backfill } : {}) } },
        }),
      ),
    [status, cursor, backfill],
  );
  const backfills = useAsync(() => ok(api.GET("/api/v1/backfills", { params: { query: { limit: 20 } } })), []);
  const refresh = useMemo(
    () =>
      throttle(() => {
        runs.reload();
        backfills.reload();
      }, 1000),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [],
  );
  useLiveEvents(refresh, (t) => t.startsWith("run_") || t.startsWith("backfill_"));
  const [older, setOlder] = useState<string[]>([]);

  return (
    <div>
      <h1>Runs</h1>
      {backfill ? (
        <p>
          Runs of backfill <code>{backfill}</code> · <Link to="/runs">all runs</Link>
        </p>
      ) : null}
      <Section
        title="Runs"
        id="runs"
        actions={
          <label>
            Status{" "}
            <select value={status} onChange={(e) => navigate(e.target.value ? `/runs?status=${e.target.value}` : "/runs")}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s || "any"}
                </option>
              ))}
            </select>
          </label>
        }
      >
        {runs.error ? <ErrorNote error={runs.error} /> : null}
        {!runs.data ? (
          <Loading what="runs" />
        ) : runs.data.runs.length === 0 ? (
          <p className="muted">No runs{status ? ` ${status}` : ""} yet.</p>
        ) : (
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">What</th>
                <th scope="col" className="num">
                  Steps
                </th>
                <th scope="col">Launched by</th>
                <th scope="col">Created</th>
                <th scope="col" className="num">
                  Duration
                </th>
              </tr>
            </thead>
            <tbody>
              {runs.data.runs.map((r) => (
                <tr key={r.run_id}>
                  <td>
                    <Link to={`/runs/${r.run_id}`}>
                      <code>{shortId(r.run_id)}</code>
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td className="wrap">
                    {r.description}
                    {r.error ? <div className="error-text small">{r.error}</div> : null}
                  </td>
                  <td className="num">{fmtCount(r.steps)}</td>
                  <td>{String(r.tags.launched_by ?? "—")}</td>
                  <td>{fmtTime(r.created_at)}</td>
                  <td className="num">{fmtDuration(runDuration(r))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="button-row">
          {cursor ? (
            <button
              type="button"
              onClick={() => {
                const prev = older.slice(0, -1);
                setOlder(prev);
                const back = prev[prev.length - 1];
                navigate(`/runs?${new URLSearchParams({ ...(status ? { status } : {}), ...(back ? { cursor: back } : {}) })}`);
              }}
            >
              Newer
            </button>
          ) : null}
          {runs.data?.next ? (
            <button
              type="button"
              onClick={() => {
                const next = runs.data!.next!;
                setOlder([...older, next]);
                navigate(`/runs?${new URLSearchParams({ ...(status ? { status } : {}), cursor: next })}`);
              }}
            >
              Older
            </button>
          ) : null}
        </div>
      </Section>
      <Section title="Backfills" id="backfills">
        {backfills.error ? <ErrorNote error={backfills.error} /> : null}
        {!backfills.data ? (
          <Loading what="backfills" />
        ) : backfills.data.backfills.length === 0 ? (
          <p className="muted">No backfills yet: launch one from an asset or a selection in the graph.</p>
        ) : (
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Backfill</th>
                <th scope="col">Status</th>
                <th scope="col">Selection</th>
                <th scope="col">Partitions</th>
                <th scope="col">Progress</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {backfills.data.backfills.map((b) => (
                <tr key={b.backfill_id}>
                  <td>
                    <Link to={`/runs?backfill=${b.backfill_id}`} aria-label={`Runs of backfill ${b.backfill_id}`}>
                      <code>{shortId(b.backfill_id)}</code>
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={b.status} />
                  </td>
                  <td>
                    <code>{b.selection}</code>
                  </td>
                  <td>{b.partitions}</td>
                  <td>
                    <progress max={Math.max(1, b.requested)} value={b.completed + b.failed} aria-label={`Backfill ${shortId(b.backfill_id)} progress`} />{" "}
                    {fmtCount(b.completed)}/{fmtCount(b.requested)}
                    {b.failed ? <span className="error-text"> ({fmtCount(b.failed)} failed)</span> : null}
                  </td>
                  <td>{fmtTime(b.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
