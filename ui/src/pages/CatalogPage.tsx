// The catalog: every asset in a table, searchable and filterable (text, group, kind, tag,
// partition state — the API filters), with health and freshness.
import { useEffect, useMemo, useState } from "react";
import { api, ok } from "../api/client";
import { ErrorNote, FreshnessBadge, HealthBadge, Loading, Tags } from "../components/common";
import { STATES, useHealth } from "../lib/health";
import { assetHref, Link, navigate, useLocation, useTitle } from "../lib/router";
import { useAsync } from "../lib/useAsync";

const FILTERS = ["q", "group", "kind", "tag", "status"] as const;
type Filter = (typeof FILTERS)[number];

export function CatalogPage() {
  useTitle("Catalog");
  const { query } = useLocation();
  const current = useMemo(() => Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ""])) as Record<Filter, string>, [query]);
  const [text, setText] = useState(current.q);
  const all = useAsync(() => ok(api.GET("/api/v1/assets")), []);
  const filtered = useAsync(() => {
    const q: Record<string, string> = {};
    for (const f of FILTERS) if (current[f]) q[f] = current[f];
    return ok(api.GET("/api/v1/assets", { params: { query: q } }));
  }, [JSON.stringify(current)]);
  const health = useHealth();

  const set = (filter: Filter, value: string) => {
    const q = new URLSearchParams();
    for (const f of FILTERS) {
      const v = f === filter ? value : current[f];
      if (v) q.set(f, v);
    }
    const s = q.toString();
    navigate(s ? `/assets?${s}` : "/assets", true);
  };

  // Typing filters after a pause.
  useEffect(() => {
    if (text === current.q) return;
    const t = setTimeout(() => set("q", text), 250);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);

  const groups = [...new Set((all.data?.assets ?? []).map((a) => a.group))].sort();
  const kinds = [...new Set((all.data?.assets ?? []).map((a) => a.kind))].sort();
  const tags = [...new Set((all.data?.assets ?? []).flatMap((a) => Object.entries(a.tags).map(([k, v]) => `${k}=${v}`)))].sort();
  const rows = filtered.data?.assets ?? [];

  return (
    <div>
      <h1>Catalog</h1>
      <form className="filters" role="search" aria-label="Filter assets" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="key or description" />
        </label>
        <label>
          Group
          <select value={current.group} onChange={(e) => set("group", e.target.value)}>
            <option value="">any</option>
            {groups.map((g) => (
              <option key={g}>{g}</option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select value={current.kind} onChange={(e) => set("kind", e.target.value)}>
            <option value="">any</option>
            {kinds.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          Tag
          <select value={current.tag} onChange={(e) => set("tag", e.target.value)}>
            <option value="">any</option>
            {tags.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Has partitions
          <select value={current.status} onChange={(e) => set("status", e.target.value)}>
            <option value="">in any state</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
      </form>
      {filtered.error ? <ErrorNote error={filtered.error} /> : null}
      {!filtered.data ? (
        <Loading what="assets" />
      ) : (
        <>
          <p className="muted" role="status">
            {rows.length} of {all.data?.assets.length ?? "…"} assets
          </p>
          <table className="list catalog">
            <thead>
              <tr>
                <th scope="col">Asset</th>
                <th scope="col">Health</th>
                <th scope="col">Kind</th>
                <th scope="col">Partitions</th>
                <th scope="col">Automation</th>
                <th scope="col">Tags</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => {
                const h = health.of(a.key);
                return (
                  <tr key={a.key}>
                    <td className="wrap">
                      <Link to={assetHref(a.key)}>{a.key}</Link>
                      {a.description ? <div className="muted small">{a.description}</div> : null}
                    </td>
                    <td>
                      <HealthBadge headline={h.headline} /> {h.freshness ? <FreshnessBadge state={h.freshness.state} /> : null}
                    </td>
                    <td>{a.kind}</td>
                    <td className="small">{a.partitions ?? "—"}</td>
                    <td className="small">{a.automation ? <code>{a.automation}</code> : "—"}</td>
                    <td>
                      <Tags tags={a.tags} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
