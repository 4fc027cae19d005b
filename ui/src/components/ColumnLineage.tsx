// An asset's column lineage: its columns on the right, the upstream assets it reads on the left
// with the columns it uses. Clicking a column highlights its sources (with how each reaches it);
// columns that decide which rows exist (join keys, filters, groups) are marked apart.
import { useState } from "react";
import { api, assetPath, ok, type AssetColumns } from "../api/client";
import { assetHref, Link } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { ErrorNote, Loading, Section } from "./common";

export function ColumnLineageSection({ asset }: { asset: string }) {
  const lineage = useAsync(() => ok(api.GET("/api/v1/assets/{group}/{name}/lineage/columns", { params: { path: assetPath(asset) } })), [asset]);
  return (
    <Section title="Column lineage" id="columns">
      {lineage.error ? <ErrorNote error={lineage.error} /> : null}
      {lineage.data ? <ColumnLineageView lineage={lineage.data} /> : lineage.error ? null : <Loading what="the column lineage" />}
    </Section>
  );
}

function ColumnLineageView({ lineage }: { lineage: AssetColumns }) {
  const [picked, setPicked] = useState<string | null>(null);
  if (lineage.unavailable) return <p className="muted" data-testid="column-lineage-unavailable">{lineage.unavailable}</p>;
  if (lineage.columns.length === 0) return <p className="muted">No columns known yet: materialize the asset once.</p>;
  const column = lineage.columns.find((c) => c.name === picked) ?? null;
  // Every upstream column the asset uses, by asset: sources of any column, and row sources.
  const upstream = new Map<string, Set<string>>();
  const use = (asset: string, name: string) => {
    if (!upstream.has(asset)) upstream.set(asset, new Set());
    upstream.get(asset)?.add(name);
  };
  lineage.columns.forEach((c) => c.sources.forEach((s) => use(s.asset, s.column)));
  lineage.rows.forEach((r) => use(r.asset, r.column));
  const sourceOf = (asset: string, name: string) => column?.sources.find((s) => s.asset === asset && s.column === name);
  const rowOf = (asset: string, name: string) => lineage.rows.find((r) => r.asset === asset && r.column === name);
  return (
    <>
      <p className="muted small">
        {lineage.origin === "sql"
          ? "Planned from the asset's SQL."
          : lineage.origin === "reported"
            ? "As the asset's command reported it."
            : "The asset reports no column lineage."}{" "}
        Click a column to highlight its sources.
      </p>
      <div className="column-lineage" data-testid="column-lineage">
        <div className="column-upstream">
          {[...upstream.entries()].map(([asset, names]) => (
            <div className="column-table" key={asset}>
              <h4>
                <Link to={assetHref(asset)}>{asset}</Link>
              </h4>
              <ul>
                {[...names].sort().map((name) => {
                  const source = sourceOf(asset, name);
                  const row = rowOf(asset, name);
                  return (
                    <li key={name} className={source ? "source" : undefined} data-testid={source ? "column-source" : undefined}>
                      <code>{name}</code> {source ? <span className="badge">{source.transform ?? "reported"}</span> : null}
                      {row ? <span className="muted small"> {row.effects.join(", ").replaceAll("_", " ")}</span> : null}
                    </li>
                  );
                })}
              </ul>
            </div>
          ))}
        </div>
        <div className="column-arrow" aria-hidden="true">
          →
        </div>
        <div className="column-table">
          <h4>{lineage.asset}</h4>
          <ul>
            {lineage.columns.map((c) => (
              <li key={c.name} className={c.name === picked ? "picked" : undefined}>
                <button type="button" className="link" aria-pressed={c.name === picked} onClick={() => setPicked(c.name === picked ? null : c.name)}>
                  <code>{c.name}</code>
                </button>{" "}
                <span className="muted small">
                  {c.type ?? ""} {c.transform ?? ""}
                </span>
              </li>
            ))}
          </ul>
        </div>
      </div>
      {column ? (
        <p className="small" data-testid="column-explanation">
          <code>{column.name}</code>{" "}
          {column.sources.length === 0
            ? `has no upstream column (${column.transform ?? "unknown"}).`
            : `comes from ${column.sources.map((s) => `${s.asset}.${s.column}${s.transform ? ` (${s.transform})` : ""}`).join(", ")}.`}
        </p>
      ) : null}
    </>
  );
}
