// The partition health bar: one cell per partition, drawn on a canvas from the compact ranges
// of `GET …/partitions/status` (indices, so a million partitions in a handful of ranges cost
// a handful of steps). When there are more partitions than pixels, each column holds a run of
// partitions and is split in proportion to their states, failed and stale always visible.
// A two-dimensional asset is a grid: a row per key of the inner dimension.
import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent } from "react";
import { api, ok, type StatusReport } from "../api/client";
import { fmtCount } from "../lib/format";
import { useWidth } from "../lib/useWidth";

/** Drawn states, top to bottom within a column. */
export const BAR_STATES = ["failed", "in_progress", "stale", "materialized", "missing"] as const;
export type BarState = (typeof BAR_STATES)[number];

export const BAR_COLORS: Record<BarState, string> = {
  failed: "#dc2626",
  in_progress: "#2563eb",
  stale: "#d97706",
  materialized: "#16a34a",
  missing: "#d4d4d8",
};

export const BAR_LABELS: Record<BarState, string> = {
  failed: "failed",
  in_progress: "in progress",
  stale: "stale",
  materialized: "materialized",
  missing: "missing",
};

type Interval = [number, number];

/** Each state's index intervals (materialized without the stale ones, which are drawn apart). */
export function intervals(report: StatusReport): Record<BarState, Interval[]> {
  const of = (r: { ranges: { start: number; end: number }[] } | null | undefined): Interval[] =>
    (r?.ranges ?? []).map((x) => [x.start, x.end]);
  const stale = of(report.stale);
  return {
    failed: of(report.failed),
    in_progress: of(report.in_progress),
    stale,
    materialized: subtract(of(report.materialized), stale),
    missing: of(report.missing),
  };
}

/** `a` minus `b`, both sorted and disjoint. */
export function subtract(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (const [s0, e] of a) {
    let s = s0;
    while (j < b.length && b[j]![1] <= s) j++;
    let k = j;
    while (k < b.length && b[k]![0] < e) {
      const [bs, be] = b[k]!;
      if (bs > s) out.push([s, bs]);
      s = Math.max(s, be);
      k++;
    }
    if (s < e) out.push([s, e]);
  }
  return out;
}

/**
 * How many of `list`'s indices fall in each of `buckets` equal slices of `[0, total)`:
 * a sweep over the sorted intervals, O(intervals + buckets).
 */
export function bucketCounts(list: Interval[], total: number, buckets: number): Float64Array {
  const counts = new Float64Array(buckets);
  if (total === 0) return counts;
  const width = total / buckets;
  for (const [s, e] of list) {
    const first = Math.floor(s / width);
    const last = Math.min(buckets - 1, Math.floor((e - 1) / width));
    if (first === last) {
      counts[first]! += e - s;
      continue;
    }
    counts[first]! += (first + 1) * width - s;
    for (let b = first + 1; b < last; b++) counts[b]! += width;
    counts[last]! += e - last * width;
  }
  return counts;
}

/** Intervals of one row of a grid: the indices `i` with `i % rows == row`, as row-local positions. */
export function rowIntervals(list: Interval[], rows: number, row: number): Interval[] {
  const out: Interval[] = [];
  for (const [s, e] of list) {
    const a = Math.ceil((s - row) / rows);
    const b = Math.ceil((e - row) / rows);
    if (b > a) {
      const prev = out[out.length - 1];
      if (prev && prev[1] === a) prev[1] = b;
      else out.push([a, b]);
    }
  }
  return out;
}

interface Hover {
  x: number;
  row: number;
  first: number;
  last: number;
  counts: Record<BarState, number>;
  key?: string;
}

export interface Grid {
  /** The inner dimension's keys, one row each (the index is `outer * rows + row`). */
  rows: string[];
}

interface Props {
  asset: string;
  report: StatusReport;
  grid?: Grid;
  /** Called with a partition index when a cell is picked (the worst state within it). */
  onPick?: (index: number) => void;
}

const ROW_HEIGHT = 26;
const GRID_ROW_HEIGHT = 16;

export function HealthBar({ asset, report, grid, onPick }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [box, boxWidth] = useWidth<HTMLDivElement>(800);
  const width = boxWidth - (grid ? 44 : 0);
  const [hover, setHover] = useState<Hover | null>(null);
  const [focusCell, setFocusCell] = useState<number | null>(null);
  const keyCache = useRef(new Map<number, string>());
  const rows = grid?.rows.length ?? 1;
  const total = report.total;
  const perRow = grid ? Math.ceil(total / rows) : total;
  const rowHeight = grid ? GRID_ROW_HEIGHT : ROW_HEIGHT;
  const buckets = Math.max(1, Math.min(perRow, Math.floor(width)));
  const sets = useMemo(() => intervals(report), [report]);

  // Per row, per state, the count in each column.
  const counts = useMemo(() => {
    const out: Record<BarState, Float64Array>[] = [];
    for (let r = 0; r < rows; r++) {
      const row = {} as Record<BarState, Float64Array>;
      for (const state of BAR_STATES) {
        const list = grid ? rowIntervals(sets[state], rows, r) : sets[state];
        row[state] = bucketCounts(list, perRow, buckets);
      }
      out.push(row);
    }
    return out;
  }, [sets, rows, grid, perRow, buckets]);

  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext("2d");
    if (!c || !ctx) return;
    const started = performance.now();
    const dpr = window.devicePixelRatio || 1;
    const height = rows * rowHeight;
    c.width = Math.round(width * dpr);
    c.height = Math.round(height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const cell = width / buckets;
    const gap = cell >= 4 ? 1 : 0;
    const span = perRow / buckets;
    for (let r = 0; r < rows; r++) {
      const y0 = r * rowHeight;
      const h = rowHeight - (grid ? 2 : 0);
      const row = counts[r]!;
      for (let b = 0; b < buckets; b++) {
        // Rare states get at least a third of the cell (a missing one a sliver) so that one
        // failure or gap among thousands of partitions still shows; the largest share gives
        // up the room.
        const shares = BAR_STATES.map((state) => {
          const n = row[state][b]!;
          if (n <= 0) return 0;
          const least = state === "materialized" ? 0 : state === "missing" ? 3 : h / 3;
          return Math.max(least, (n / span) * h);
        });
        const excess = shares.reduce((a, v) => a + v, 0) - h;
        if (excess > 0) {
          const largest = shares.indexOf(Math.max(...shares));
          shares[largest] = Math.max(1, shares[largest]! - excess);
        }
        const x = b * cell;
        let y = y0;
        shares.forEach((share, i) => {
          if (share <= 0) return;
          ctx.fillStyle = BAR_COLORS[BAR_STATES[i]!];
          ctx.fillRect(x, y, Math.max(1, cell - gap), Math.min(share, y0 + h - y));
          y += share;
        });
      }
    }
    if (focusCell !== null) {
      ctx.strokeStyle = "#111827";
      ctx.lineWidth = 2;
      ctx.strokeRect(focusCell * cell + 1, 1, Math.max(2, cell - 2), rows * rowHeight - 2);
    }
    // For the benchmark (bench/ui).
    performance.mark("strata:health-bar-drawn", { detail: { drawMs: performance.now() - started, partitions: total } });
  }, [total, counts, width, buckets, rows, rowHeight, grid, perRow, focusCell]);

  function describe(bucket: number, row: number): Hover {
    const span = perRow / buckets;
    const firstLocal = Math.floor(bucket * span);
    const lastLocal = Math.max(firstLocal, Math.ceil((bucket + 1) * span) - 1);
    const c = {} as Record<BarState, number>;
    for (const state of BAR_STATES) c[state] = Math.round(counts[row]![state][bucket]!);
    const toIndex = (local: number) => (grid ? local * rows + row : local);
    return { x: (bucket + 0.5) * (width / buckets), row, first: toIndex(firstLocal), last: toIndex(Math.min(lastLocal, perRow - 1)), counts: c };
  }

  /** The index to open for a cell: the first in its worst state. */
  function pickIndex(h: Hover): number {
    for (const state of BAR_STATES) {
      if (h.counts[state] <= 0) continue;
      for (const [s, e] of sets[state]) {
        if (grid) {
          for (let i = Math.max(s, h.first); i < e && i <= h.last; i++) if (i % rows === h.row) return i;
        } else if (e > h.first && s <= h.last) return Math.max(s, h.first);
      }
    }
    return h.first;
  }

  function lookUpKey(h: Hover) {
    const known = keyCache.current.get(h.first);
    if (known !== undefined) {
      setHover({ ...h, key: known });
      return;
    }
    setHover(h);
    const [group = "", name = ""] = asset.split("/");
    ok(api.GET("/api/v1/assets/{group}/{name}/partitions", { params: { path: { group, name }, query: { cursor: String(h.first), limit: 1 } } })).then(
      (page) => {
        const key = page.partitions[0]?.key;
        if (key === undefined) return;
        keyCache.current.set(h.first, key);
        setHover((cur) => (cur && cur.first === h.first ? { ...cur, key } : cur));
      },
      () => {},
    );
  }

  function at(e: MouseEvent<HTMLCanvasElement>): Hover | null {
    const r = e.currentTarget.getBoundingClientRect();
    const bucket = Math.min(buckets - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * buckets)));
    const row = Math.min(rows - 1, Math.max(0, Math.floor((e.clientY - r.top) / rowHeight)));
    return describe(bucket, row);
  }

  function keyDown(e: KeyboardEvent<HTMLCanvasElement>) {
    const current = focusCell ?? -1;
    let next: number;
    if (e.key === "ArrowRight") next = Math.min(buckets - 1, current + 1);
    else if (e.key === "ArrowLeft") next = Math.max(0, current - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = buckets - 1;
    else if ((e.key === "Enter" || e.key === " ") && focusCell !== null) {
      e.preventDefault();
      onPick?.(pickIndex(describe(focusCell, 0)));
      return;
    } else return;
    e.preventDefault();
    setFocusCell(next);
    lookUpKey(describe(next, 0));
  }

  const summary = BAR_STATES.filter((s) => s !== "stale" || report.stale)
    .map((s) => `${fmtCount(s === "materialized" ? report.materialized.count : (report[s]?.count ?? 0))} ${BAR_LABELS[s]}`)
    .join(", ");
  const firstKey = [report.materialized, report.missing, report.failed, report.in_progress].flatMap((r) => r.ranges).find((r) => r.start === 0)?.first;
  const lastKey = [report.materialized, report.missing, report.failed, report.in_progress].flatMap((r) => r.ranges).find((r) => r.end === total)?.last;

  return (
    <div className="health-bar" ref={box} data-testid="health-bar">
      <div className="bar-wrap">
        {grid ? (
          <div className="grid-rows" aria-hidden="true">
            {grid.rows.map((r) => (
              <div key={r} style={{ height: GRID_ROW_HEIGHT }}>
                {r}
              </div>
            ))}
          </div>
        ) : null}
        <canvas
          ref={canvas}
          style={{ width, height: rows * rowHeight }}
          role="img"
          tabIndex={0}
          aria-label={`Partitions of ${asset}: ${fmtCount(total)} in all; ${summary}. Arrow keys move between cells, Enter opens one.`}
          onMouseMove={(e) => {
            const h = at(e);
            if (h && (!hover || h.first !== hover.first || h.row !== hover.row)) lookUpKey(h);
          }}
          onMouseLeave={() => setHover(null)}
          onClick={(e) => {
            const h = at(e);
            if (h) onPick?.(pickIndex(h));
          }}
          onKeyDown={keyDown}
          onBlur={() => setFocusCell(null)}
        />
      </div>
      {hover ? (
        <div className="bar-tip" style={{ left: `min(max(${hover.x}px, 8rem), calc(100% - 8rem))` }} role="status">
          <strong>{hover.key ?? `#${fmtCount(hover.first)}`}</strong>
          {hover.last > hover.first ? ` and ${fmtCount(grid ? Math.round((hover.last - hover.first) / rows) : hover.last - hover.first)} more` : ""}
          <br />
          {BAR_STATES.filter((s) => hover.counts[s] > 0)
            .map((s) => `${fmtCount(hover.counts[s])} ${BAR_LABELS[s]}`)
            .join(" · ")}
        </div>
      ) : null}
      <div className="bar-axis">
        <span>{firstKey}</span>
        <span className="muted small">
          {fmtCount(total)} partitions{perRow > buckets ? `, ${fmtCount(Math.round(perRow / buckets))} per column` : ""}
        </span>
        <span>{lastKey}</span>
      </div>
      <ul className="bar-legend" aria-label="Partition counts">
        {BAR_STATES.map((s) => {
          const n = s === "stale" ? report.stale?.count : report[s].count;
          if (n === undefined) return null;
          return (
            <li key={s} data-state={s} data-count={n}>
              <span className="swatch" style={{ background: BAR_COLORS[s] }} aria-hidden="true" />
              {BAR_LABELS[s]} <strong>{fmtCount(n)}</strong>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
