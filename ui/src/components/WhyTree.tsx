// An automation explanation: the condition's tree, each node with what it means and where it
// held. With a partition, each node of the asset itself says true, false or not evaluated for
// that partition (as `strata automation why` does).
import { useState } from "react";
import type { Subset, Why, WhyNode } from "../api/types";
import { fmtCount } from "../lib/format";
import { fmtTime } from "../lib/format";

function count(s: Subset): number {
  return typeof s === "boolean" ? (s ? 1 : 0) : s.reduce((n, r) => n + r.count, 0);
}

/** Whether `key` is in `s` (time keys sort as text; exact ends match any key). */
export function contains(s: Subset, key: string | null): boolean {
  if (typeof s === "boolean") return s;
  if (key === null) return count(s) > 0;
  return s.some((r) => r.first === key || r.last === key || (r.count > 1 && r.first < key && key < r.last));
}

export function describeSubset(s: Subset): string {
  if (typeof s === "boolean") return s ? "yes" : "no";
  if (s.length === 0) return "none";
  const shown = s.slice(0, 3).map((r) => (r.count === 1 ? r.first : `${r.first} … ${r.last} (${fmtCount(r.count)})`));
  const rest = s.slice(3).reduce((n, r) => n + r.count, 0);
  return shown.join(", ") + (rest > 0 ? ` and ${fmtCount(rest)} more` : "");
}

type Verdict = "true" | "false" | "skipped" | "summary";

function verdict(node: WhyNode, partition: string | null, onRoot: boolean): Verdict {
  if (partition === null || !onRoot) return count(node.candidates) === 0 ? "skipped" : "summary";
  if (!contains(node.candidates, partition)) return "skipped";
  return contains(node.true, partition) ? "true" : "false";
}

function Node({ node, partition, root, asset, depth }: { node: WhyNode; partition: string | null; root: string; asset: string; depth: number }) {
  const here = node.asset ?? asset;
  const v = verdict(node, partition, here === root);
  const [open, setOpen] = useState(depth < 2 || (v !== "skipped" && depth < 3));
  const mark = { true: "✓", false: "✗", skipped: "·", summary: count(node.true) > 0 ? "●" : "○" }[v];
  const detail =
    v === "true"
      ? "true"
      : v === "false"
        ? "false"
        : v === "skipped"
          ? "not evaluated: an earlier clause was false"
          : `true for ${describeSubset(node.true)} of ${fmtCount(count(node.candidates))}`;
  return (
    <li className={`why-node v-${v}`}>
      <div className="why-line">
        {node.children.length > 0 ? (
          <button type="button" className="toggle" aria-expanded={open} aria-label={open ? "Collapse" : "Expand"} onClick={() => setOpen(!open)}>
            {open ? "▾" : "▸"}
          </button>
        ) : (
          <span className="toggle" />
        )}
        <span className="mark" aria-hidden="true">
          {mark}
        </span>
        <code className="label">{node.label}</code>
        {node.asset && node.asset !== asset ? <span className="muted"> on {node.asset}</span> : null}
        <span className="detail"> — {detail}</span>
        {node.meaning ? <span className="meaning muted"> ({node.meaning})</span> : null}
        {node.since ? <span className="muted small"> since {fmtTime(node.since)}</span> : null}
      </div>
      {open && node.children.length > 0 ? (
        <ul>
          {node.children.map((c, i) => (
            <Node key={i} node={c} partition={partition} root={root} asset={here} depth={depth + 1} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

export function WhyTree({ why }: { why: Why }) {
  const requested = why.partition === null ? count(why.requested) > 0 : contains(why.requested, why.partition);
  return (
    <div className="why" data-testid="why">
      <p>
        Tick {why.tick} at {fmtTime(why.now)}: condition <code>{why.condition}</code>.{" "}
        <strong data-testid="why-verdict">
          {why.partition === null
            ? requested
              ? `Requested ${describeSubset(why.requested)}.`
              : "Nothing requested."
            : requested
              ? `${why.partition} was requested.`
              : `${why.partition} was not requested.`}
        </strong>
      </p>
      <ul className="why-tree">
        <Node node={why.explanation} partition={why.partition} root={why.asset} asset={why.asset} depth={0} />
      </ul>
    </div>
  );
}
