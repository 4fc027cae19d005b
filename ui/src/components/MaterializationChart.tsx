// Rows (bars) and step duration (dots) of an asset's materializations: the latest per
// partition in partition order, or, unpartitioned, each materialization in time order.
import { useMemo } from "react";
import type { Materialization } from "../api/client";
import { fmtCount, fmtDuration } from "../lib/format";

const HEIGHT = 160;
const PAD = { left: 56, right: 56, top: 10, bottom: 26 };

export function MaterializationChart({ items, partitioned }: { items: Materialization[]; partitioned: boolean }) {
  const points = useMemo(() => {
    if (!partitioned) return [...items].reverse().map((m) => ({ label: m.at.slice(0, 19).replace("T", " "), m }));
    const latest = new Map<string, Materialization>();
    for (const m of items) if (m.partition && !latest.has(m.partition)) latest.set(m.partition, m);
    return [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([label, m]) => ({ label, m }));
  }, [items, partitioned]);
  if (points.length === 0) return <p className="muted">No materializations yet.</p>;
  const width = Math.max(360, Math.min(1100, points.length * 14 + PAD.left + PAD.right));
  const innerW = width - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const maxRows = Math.max(1, ...points.map((p) => p.m.rows));
  const maxMs = Math.max(1, ...points.map((p) => p.m.duration_ms ?? 0));
  const step = innerW / points.length;
  const bar = Math.max(1, Math.min(24, step * 0.7));
  const line = points
    .map((p, i) => (p.m.duration_ms === null || p.m.duration_ms === undefined ? null : [PAD.left + (i + 0.5) * step, PAD.top + innerH - (p.m.duration_ms / maxMs) * innerH]))
    .filter((p): p is number[] => p !== null);
  return (
    <figure className="chart">
      <svg width={width} height={HEIGHT} viewBox={`0 0 ${width} ${HEIGHT}`} role="img" aria-label={`Rows and durations of ${points.length} ${partitioned ? "partitions" : "materializations"}`}>
        <line x1={PAD.left} x2={PAD.left + innerW} y1={PAD.top + innerH} y2={PAD.top + innerH} className="axis" />
        <text x={PAD.left - 6} y={PAD.top + 8} className="axis-label" textAnchor="end">
          {fmtCount(maxRows)}
        </text>
        <text x={PAD.left - 6} y={PAD.top + innerH} className="axis-label" textAnchor="end">
          0
        </text>
        <text x={PAD.left + innerW + 6} y={PAD.top + 8} className="axis-label dur">
          {fmtDuration(maxMs)}
        </text>
        {points.map((p, i) => {
          const h = (p.m.rows / maxRows) * innerH;
          return (
            <rect key={p.label + i} className="bar" x={PAD.left + i * step + (step - bar) / 2} y={PAD.top + innerH - h} width={bar} height={Math.max(0.5, h)}>
              <title>{`${p.label}: ${fmtCount(p.m.rows)} rows, ${fmtDuration(p.m.duration_ms)}`}</title>
            </rect>
          );
        })}
        <polyline className="dur-line" points={line.map((p) => p.join(",")).join(" ")} />
        {line.length <= 120 ? line.map((p, i) => <circle key={i} className="dur-dot" cx={p[0]} cy={p[1]} r={2.5} />) : null}
        <text x={PAD.left} y={HEIGHT - 8} className="axis-label">
          {points[0]!.label}
        </text>
        <text x={PAD.left + innerW} y={HEIGHT - 8} className="axis-label" textAnchor="end">
          {points[points.length - 1]!.label}
        </text>
      </svg>
      <figcaption className="small">
        <span className="swatch rows" aria-hidden="true" /> rows (left axis) <span className="swatch dur" aria-hidden="true" /> step duration (right
        axis){partitioned ? ", latest materialization of each partition" : ""}
      </figcaption>
    </figure>
  );
}
