// One run: its state, a step timeline (Gantt), its log live over server-sent events, and a
// cancel button while it is queued or going.
import { useEffect, useMemo, useRef, useState } from "react";
import { api, ok, type LogLine, type RunDetail, type Step } from "../api/client";
import { ErrorNote, Loading, Section, StatusBadge } from "../components/common";
import { fmtCount, fmtDuration, fmtTime } from "../lib/format";
import { openStream, RUN_ENDED } from "../lib/live";
import { assetHref, Link, useTitle } from "../lib/router";
import { throttle, useAsync } from "../lib/useAsync";
import { useWidth } from "../lib/useWidth";
import { LogList } from "../components/LogList";
import { runDuration } from "./RunsPage";

export function RunPage({ runId }: { runId: string }) {
  useTitle(`Run ${runId.slice(-8)}`);
  const detail = useAsync(() => ok(api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: runId } } })), [runId]);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [streaming, setStreaming] = useState(false);
  const [filter, setFilter] = useState<{ asset: string; partition: string | null } | null>(null);
  const [cancel, setCancel] = useState<{ pending: boolean; error?: string }>({ pending: false });
  const [now, setNow] = useState(() => Date.now());

  // The run's events from its start, then live: logs appended, steps refreshed.
  useEffect(() => {
    setLines([]);
    const refresh = throttle(detail.reload, 400);
    const seen = new Set<number>();
    const buffer: LogLine[] = [];
    const flush = throttle(() => {
      const batch = buffer.splice(0);
      if (batch.length) setLines((l) => [...l, ...batch]);
    }, 150);
    const source = openStream(
      `/api/v1/runs/${encodeURIComponent(runId)}/events`,
      (r) => {
        if (seen.has(r.id)) return;
        seen.add(r.id);
        const e = r.event;
        if (e.type === "log") {
          buffer.push({
            id: r.id,
            at: new Date(r.timestamp).toISOString(),
            level: String(e.level ?? "info"),
            message: String(e.message ?? ""),
            asset: (e.asset as string | undefined) ?? null,
            partition: (e.partition as string | undefined) ?? null,
          });
          flush();
        } else if (e.type.startsWith("step_") || e.type.startsWith("run_")) refresh();
        if (RUN_ENDED.has(e.type)) {
          // The server ends the stream after the final event; do not reconnect.
          source.close();
          setStreaming(false);
          refresh();
        }
      },
      (open) => setStreaming(open),
    );
    return () => source.close();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId]);

  const running = detail.data && (detail.data.run.status === "queued" || detail.data.run.status === "started");
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [running]);

  const shown = useMemo(
    () => (filter ? lines.filter((l) => l.asset === filter.asset && (filter.partition === null || l.partition === filter.partition)) : lines),
    [lines, filter],
  );

  if (detail.error) return <ErrorNote error={detail.error} what={`Could not load run ${runId}`} />;
  const d = detail.data;
  if (!d) return <Loading what={`run ${runId}`} />;
  const run = d.run;

  async function requestCancel() {
    setCancel({ pending: true });
    try {
      await ok(api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: runId } } }));
      setCancel({ pending: false });
      detail.reload();
    } catch (e) {
      setCancel({ pending: false, error: e instanceof Error ? e.message : String(e) });
    }
  }

  const failed = d.steps.filter((s) => s.status === "failed");
  return (
    <div className="run-page">
      <header className="page-head">
        <div>
          <p className="crumbs">
            <Link to="/runs">Runs</Link>
            {run.backfill_id ? (
              <>
                {" "}
                / <Link to={`/runs?backfill=${run.backfill_id}`}>backfill {run.backfill_id.slice(-8)}</Link>
              </>
            ) : null}
          </p>
          <h1>
            Run <code>{run.run_id}</code>
          </h1>
          <p className="badges">
            <StatusBadge status={run.status} /> {run.cancel_requested && run.status === "started" ? <span className="badge">cancel requested</span> : null}{" "}
            {streaming ? (
              <span className="badge live" title="Following the run's events">
                live
              </span>
            ) : null}
          </p>
          <p className="lead">{run.description}</p>
        </div>
        <div className="button-row">
          {running ? (
            <button type="button" className="danger" onClick={requestCancel} disabled={cancel.pending || run.cancel_requested}>
              {run.cancel_requested ? "Cancel requested" : cancel.pending ? "Canceling…" : "Cancel run"}
            </button>
          ) : null}
        </div>
      </header>
      {cancel.error ? <ErrorNote error={cancel.error} /> : null}
      {run.error ? (
        <pre className="error-block" data-testid="run-error">
          {run.error}
        </pre>
      ) : null}
      <dl className="facts inline">
        <dt>Created</dt>
        <dd>{fmtTime(run.created_at)}</dd>
        <dt>Started</dt>
        <dd>{fmtTime(run.started_at ?? null)}</dd>
        <dt>Ended</dt>
        <dd>{fmtTime(run.ended_at ?? null)}</dd>
        <dt>Duration</dt>
        <dd>{fmtDuration(runDuration(run, now))}</dd>
        <dt>Steps</dt>
        <dd>
          {fmtCount(d.steps.filter((s) => s.status === "succeeded").length)} of {fmtCount(Math.max(run.steps, d.steps.length))} succeeded
          {failed.length ? `, ${failed.length} failed` : ""}
        </dd>
        <dt>Launched by</dt>
        <dd>{String(run.tags.launched_by ?? "—")}</dd>
      </dl>
      {failed.length > 0 ? (
        <Section title="Failed steps" id="failed-steps">
          <ul className="failures">
            {failed.slice(0, 20).map((s, i) => (
              <li key={i}>
                <Link to={assetHref(s.asset, s.partition ?? undefined)}>
                  {s.asset}
                  {s.partition ? ` [${s.partition}]` : ""}
                </Link>
                <pre className="error-block" data-testid="step-error">
                  {s.error ?? "no error recorded"}
                </pre>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      <Section title="Timeline" id="timeline">
        <Gantt detail={d} now={now} selected={filter} onSelect={setFilter} />
      </Section>
      <Section
        title="Logs"
        id="logs"
        actions={
          filter ? (
            <button type="button" onClick={() => setFilter(null)}>
              Show every step's logs
            </button>
          ) : null
        }
      >
        {filter ? (
          <p className="muted small">
            Only {filter.asset}
            {filter.partition ? ` [${filter.partition}]` : ""}.
          </p>
        ) : null}
        <LogList lines={shown} showStep />
        <LogFollower count={shown.length} />
      </Section>
    </div>
  );
}

/** Keeps the newest log line in view while the reader is at the bottom. */
function LogFollower({ count }: { count: number }) {
  const marker = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useEffect(() => {
    const onScroll = () => {
      atBottom.current = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    return () => window.removeEventListener("scroll", onScroll);
  }, []);
  useEffect(() => {
    if (atBottom.current && count > 0) marker.current?.scrollIntoView({ block: "end" });
  }, [count]);
  return <div ref={marker} />;
}

const ROW = 22;
const LABEL = 260;
const MAX_ROWS = 400;

function Gantt({
  detail,
  now,
  selected,
  onSelect,
}: {
  detail: RunDetail;
  now: number;
  selected: { asset: string; partition: string | null } | null;
  onSelect: (s: { asset: string; partition: string | null } | null) => void;
}) {
  const steps = detail.steps;
  const [box, width] = useWidth<HTMLDivElement>(900);
  if (steps.length === 0) return <p className="muted">No step has started yet.</p>;
  const t = (s: string | null | undefined) => (s ? new Date(s).getTime() : now);
  const start = Math.min(...steps.map((s) => t(s.started_at)));
  const end = Math.max(start + 1, ...steps.map((s) => (s.ended_at ? t(s.ended_at) : now)));
  const shown = steps.slice(0, MAX_ROWS);
  const scale = (width - LABEL - 10) / (end - start);
  const ticks = 5;
  return (
    <div className="gantt-wrap" ref={box}>
      <svg className="gantt" viewBox={`0 0 ${width} ${shown.length * ROW + 24}`} width={width} height={shown.length * ROW + 24} role="list" aria-label="Steps over time">
        {Array.from({ length: ticks + 1 }, (_, i) => {
          const x = LABEL + ((width - LABEL - 10) * i) / ticks;
          return (
            <g key={i} className="gantt-tick">
              <line x1={x} x2={x} y1={0} y2={shown.length * ROW} />
              <text x={x} y={shown.length * ROW + 16} textAnchor={i === ticks ? "end" : "middle"}>
                +{fmtDuration(((end - start) * i) / ticks)}
              </text>
            </g>
          );
        })}
        {shown.map((s: Step, i) => {
          const x = LABEL + (t(s.started_at) - start) * scale;
          const w = Math.max(2, ((s.ended_at ? t(s.ended_at) : now) - t(s.started_at)) * scale);
          const isSelected = selected?.asset === s.asset && selected.partition === (s.partition ?? null);
          const label = `${s.asset}${s.partition ? ` [${s.partition}]` : ""}`;
          return (
            <g
              key={i}
              role="listitem"
              tabIndex={0}
              className={`gantt-row s-${s.status}${isSelected ? " selected" : ""}`}
              transform={`translate(0 ${i * ROW})`}
              aria-label={`${label}: ${s.status}, ${fmtDuration(s.duration_ms)}${s.attempt > 1 ? `, attempt ${s.attempt}` : ""}. Enter shows its logs.`}
              onClick={() => onSelect(isSelected ? null : { asset: s.asset, partition: s.partition ?? null })}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === " ") {
                  e.preventDefault();
                  onSelect(isSelected ? null : { asset: s.asset, partition: s.partition ?? null });
                }
              }}
            >
              <rect className="row-bg" x={0} y={0} width={width} height={ROW} />
              <text x={6} y={15}>
                {label.length > 38 ? label.slice(0, 37) + "…" : label}
              </text>
              <rect className="bar" x={x} y={4} width={w} height={ROW - 8} rx={3}>
                <title>{`${label}: ${s.status}, ${fmtDuration(s.duration_ms)}${s.error ? ` — ${s.error}` : ""}`}</title>
              </rect>
            </g>
          );
        })}
      </svg>
      {steps.length > MAX_ROWS ? <p className="muted small">The first {MAX_ROWS} of {fmtCount(steps.length)} steps.</p> : null}
    </div>
  );
}
