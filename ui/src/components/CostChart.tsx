// Cost charts: rows of a cost report as horizontal bars (per asset, team, group), or as one
// column per day; each bar stacked by what the money paid for (compute, bytes read and written,
// reported units, storage), so that what drives a cost shows at a glance.
import { useMemo } from "react";
import type { CostRow } from "../api/client";
import { fmtMoney } from "../lib/format";

export const COST_KINDS = ["compute", "read", "written", "units", "storage"] as const;
export type CostKind = (typeof COST_KINDS)[number];

export const COST_KIND_TEXT: Record<CostKind, string> = {
  compute: "compute",
  read: "bytes read",
  written: "bytes written",
  units: "reported units",
  storage: "storage",
};

/** The stacked segments of one row: each kind's share of `scale` pixels, left to right. */
function segments(row: CostRow, scale: number): { kind: CostKind; start: number; size: number }[] {
  let at = 0;
  return COST_KINDS.flatMap((kind) => {
    const size = row.amounts[kind] * scale;
    const start = at;
    at += size;
    return size > 0 ? [{ kind, start, size }] : [];
  });
}

/** Which kinds have money in any row: the legend lists only those. */
function usedKinds(rows: CostRow[]): CostKind[] {
  return COST_KINDS.filter((k) => rows.some((r) => r.amounts[k] > 0));
}

export function CostLegend({ rows }: { rows: CostRow[] }) {
  const kinds = usedKinds(rows);
  if (kinds.length === 0) return null;
  return (
    <figcaption className="small cost-legend">
      {kinds.map((k) => (
        <span key={k}>
          <span className={`swatch cost-${k}`} aria-hidden="true" /> {COST_KIND_TEXT[k]}
        </span>
      ))}
    </figcaption>
  );
}

const ROW_HEIGHT = 22;
const LABEL_WIDTH = 220;
const AMOUNT_WIDTH = 90;

/** The largest rows as horizontal bars, longest first (the report's order). */
export function CostBars({ rows, currency, limit = 20, what }: { rows: CostRow[]; currency: string; limit?: number; what: string }) {
  const shown = rows.slice(0, limit);
  if (shown.length === 0) return <p className="muted">No cost recorded.</p>;
  const width = 760;
  const inner = width - LABEL_WIDTH - AMOUNT_WIDTH;
  const max = Math.max(...shown.map((r) => r.total));
  const scale = max > 0 ? inner / max : 0;
  const height = shown.length * ROW_HEIGHT + 4;
  return (
    <figure className="chart cost-chart">
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Cost by ${what}: ${shown.length} largest`}>
        {shown.map((r, i) => {
          const y = i * ROW_HEIGHT + 2;
          return (
            <g key={r.key} data-key={r.key}>
              <title>{`${r.key}: ${fmtMoney(r.total, currency)}`}</title>
              <text x={LABEL_WIDTH - 8} y={y + 14} className="axis-label" textAnchor="end">
                {r.key.length > 34 ? r.key.slice(0, 33) + "…" : r.key}
              </text>
              {segments(r, scale).map((s) => (
                <rect key={s.kind} className={`cost-${s.kind}`} x={LABEL_WIDTH + s.start} y={y + 3} width={Math.max(0.5, s.size)} height={ROW_HEIGHT - 8} />
              ))}
              <text x={LABEL_WIDTH + r.total * scale + 6} y={y + 14} className="axis-label">
                {fmtMoney(r.total, currency)}
              </text>
            </g>
          );
        })}
      </svg>
      <CostLegend rows={shown} />
      {rows.length > shown.length ? <p className="muted small">The {shown.length} largest of {rows.length}; the table lists them all.</p> : null}
    </figure>
  );
}

const DAY_MS = 86_400_000;
const HEIGHT = 170;
const PAD = { left: 72, right: 12, top: 10, bottom: 26 };

/** Every day from the first row's to the last one's, those without cost as empty columns, so
 * that the horizontal axis is time (at most a year and a half of columns). */
function fillDays(rows: CostRow[]): { day: string; row: CostRow | undefined }[] {
  const byDay = new Map(rows.map((r) => [r.key, r]));
  const days = rows.map((r) => r.key).filter((k) => /^\d{4}-\d{2}-\d{2}$/.test(k));
  if (days.length === 0) return [];
  const first = Date.parse(days[0]! + "T00:00:00Z");
  const last = Date.parse(days[days.length - 1]! + "T00:00:00Z");
  if (!(last >= first) || (last - first) / DAY_MS > 550) return rows.map((r) => ({ day: r.key, row: r }));
  const out = [];
  for (let t = first; t <= last; t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push({ day, row: byDay.get(day) });
  }
  return out;
}

/** Cost per day: one stacked column per day. */
export function DailyCostChart({ rows, currency }: { rows: CostRow[]; currency: string }) {
  const days = useMemo(() => fillDays(rows), [rows]);
  if (days.length === 0) return <p className="muted">No cost recorded.</p>;
  const width = Math.max(360, Math.min(1100, days.length * 18 + PAD.left + PAD.right));
  const innerW = width - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const max = Math.max(0, ...rows.map((r) => r.total));
  const scale = max > 0 ? innerH / max : 0;
  const step = innerW / days.length;
  const bar = Math.max(1, Math.min(28, step * 0.7));
  return (
    <figure className="chart cost-chart">
      <svg width={width} height={HEIGHT} viewBox={`0 0 ${width} ${HEIGHT}`} role="img" aria-label={`Cost per day over ${days.length} days`}>
        <line x1={PAD.left} x2={PAD.left + innerW} y1={PAD.top + innerH} y2={PAD.top + innerH} className="axis" />
        <text x={PAD.left - 6} y={PAD.top + 8} className="axis-label" textAnchor="end">
          {fmtMoney(max, currency)}
        </text>
        <text x={PAD.left - 6} y={PAD.top + innerH} className="axis-label" textAnchor="end">
          0
        </text>
        {days.map(({ day, row }, i) => {
          if (!row) return null;
          const x = PAD.left + i * step + (step - bar) / 2;
          return (
            <g key={day} data-day={day}>
              <title>{`${day}: ${fmtMoney(row.total, currency)}`}</title>
              {segments(row, scale).map((s) => (
                <rect key={s.kind} className={`cost-${s.kind}`} x={x} y={PAD.top + innerH - s.start - s.size} width={bar} height={Math.max(0.5, s.size)} />
              ))}
            </g>
          );
        })}
        <text x={PAD.left} y={HEIGHT - 8} className="axis-label">
          {days[0]!.day}
        </text>
        {days.length > 1 ? (
          <text x={PAD.left + innerW} y={HEIGHT - 8} className="axis-label" textAnchor="end">
            {days[days.length - 1]!.day}
          </text>
        ) : null}
      </svg>
      <CostLegend rows={rows} />
    </figure>
  );
}
