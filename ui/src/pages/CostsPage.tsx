// Costs: what the steps cost, priced by the rate card, grouped by asset, team (tag:team), group
// or day, over an optional date range; a chart of the largest rows, the table (the rows and the
// total `strata costs` prints), and the cost per day.
import { useMemo, useState } from "react";
import { api, ok, type CostReport, type CostRow } from "../api/client";
import { CostBars, DailyCostChart } from "../components/CostChart";
import { ErrorNote, Loading, Section } from "../components/common";
import { fmtBytes, fmtCount, fmtMoney, fmtSeconds } from "../lib/format";
import { RUN_ENDED, useLiveEvents } from "../lib/live";
import { assetHref, Link, navigate, useLocation, useTitle } from "../lib/router";
import { throttle, useAsync } from "../lib/useAsync";

const GROUPINGS = [
  { by: "asset", label: "asset" },
  { by: "tag:team", label: "team (tag:team)" },
  { by: "group", label: "group" },
  { by: "day", label: "day" },
] as const;

interface Filters {
  by: string;
  select: string;
  since: string;
  until: string;
}

/** The report's query: only what is set, so that the API's defaults apply to the rest. */
function costQuery(f: Filters, by = f.by) {
  return {
    by,
    ...(f.select ? { select: f.select } : {}),
    ...(f.since ? { since: f.since } : {}),
    ...(f.until ? { until: f.until } : {}),
  };
}

/** The filters live in the address, so that a view can be shared and survives a reload. */
function hrefOf(f: Filters): string {
  const q = new URLSearchParams();
  if (f.by !== "asset") q.set("by", f.by);
  if (f.select) q.set("select", f.select);
  if (f.since) q.set("since", f.since);
  if (f.until) q.set("until", f.until);
  const text = q.toString();
  return text ? `/costs?${text}` : "/costs";
}

export function CostsPage() {
  useTitle("Costs");
  const { query } = useLocation();
  const filters: Filters = {
    by: query.get("by") ?? "asset",
    select: query.get("select") ?? "",
    since: query.get("since") ?? "",
    until: query.get("until") ?? "",
  };
  const [selection, setSelection] = useState(filters.select);
  const key = hrefOf(filters);
  const report = useAsync(() => ok(api.GET("/api/v1/costs", { params: { query: costQuery(filters) } })), [key]);
  const daily = useAsync(
    () => (filters.by === "day" ? Promise.resolve(undefined) : ok(api.GET("/api/v1/costs", { params: { query: costQuery(filters, "day") } }))),
    [key],
  );
  // A run that ends adds its steps' cost.
  const refresh = useMemo(
    () =>
      throttle(() => {
        report.reload();
        daily.reload();
      }, 2000),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [],
  );
  useLiveEvents(refresh, (t) => RUN_ENDED.has(t));

  const set = (change: Partial<Filters>) => navigate(hrefOf({ ...filters, ...change }), true);
  const grouping = GROUPINGS.find((g) => g.by === filters.by)?.label ?? filters.by;

  return (
    <div className="costs-page">
      <h1>Costs</h1>
      <form
        className="filters"
        aria-label="Cost report"
        onSubmit={(e) => {
          e.preventDefault();
          set({ select: selection.trim() });
        }}
      >
        <label>
          Group by
          <select value={filters.by} onChange={(e) => set({ by: e.target.value })}>
            {GROUPINGS.map((g) => (
              <option key={g.by} value={g.by}>
                {g.label}
              </option>
            ))}
            {GROUPINGS.some((g) => g.by === filters.by) ? null : <option value={filters.by}>{filters.by}</option>}
          </select>
        </label>
        <label>
          Since
          <input type="date" value={filters.since} onChange={(e) => set({ since: e.target.value })} />
        </label>
        <label>
          Until (inclusive)
          <input type="date" value={filters.until} onChange={(e) => set({ until: e.target.value })} />
        </label>
        <label>
          Assets
          <input type="search" value={selection} placeholder="every asset, or a selection" onChange={(e) => setSelection(e.target.value)} />
        </label>
        <button type="submit">Apply</button>
      </form>
      {report.error ? <ErrorNote error={report.error} what="Could not load the costs" /> : null}
      {!report.data ? (
        report.error ? null : (
          <Loading what="the costs" />
        )
      ) : (
        <>
          <Summary report={report.data} window={filters} />
          <Section title={`By ${grouping}`} id="cost-rows">
            {report.data.by === "day" ? (
              <DailyCostChart rows={report.data.rows} currency={report.data.currency} />
            ) : (
              <CostBars rows={report.data.rows} currency={report.data.currency} what={grouping} />
            )}
            <CostTable report={report.data} window={filters} />
          </Section>
          {filters.by !== "day" ? (
            <Section title="Per day" id="cost-days">
              {daily.error ? <ErrorNote error={daily.error} /> : null}
              {daily.data ? <DailyCostChart rows={daily.data.rows} currency={daily.data.currency} /> : daily.error ? null : <Loading what="the days" />}
            </Section>
          ) : null}
        </>
      )}
    </div>
  );
}

/** The window as the user picked it (the API's own bounds are exclusive and in UTC). */
function period({ since, until }: { since: string; until: string }): string {
  if (since && until) return `from ${since} to ${until}`;
  if (since) return `since ${since}`;
  if (until) return `up to ${until}`;
  return "so far";
}

function Summary({ report, window }: { report: CostReport; window: Filters }) {
  const t = report.total;
  return (
    <p className="cost-summary">
      Total <strong data-testid="cost-total">{fmtMoney(t.total, report.currency)}</strong>{" "}
      <span className="muted">
        {period(window)}: {fmtCount(t.steps)} steps, {fmtSeconds(t.usage.cpu_seconds)} of CPU, {fmtBytes(t.usage.bytes_written)} written
        {t.amounts.storage > 0 ? `, ${fmtMoney(t.amounts.storage, report.currency)} of it storage` : ""}
      </span>
    </p>
  );
}

/** A row's key: an asset links to its page, a `tag=value` reads as is. */
function RowKey({ by, row }: { by: string; row: CostRow }) {
  if (by === "asset") return <Link to={assetHref(row.key)}>{row.key}</Link>;
  if (by === "group") return <Link to={`/assets?group=${encodeURIComponent(row.key)}`}>{row.key}</Link>;
  return <>{row.key}</>;
}

function CostTable({ report, window }: { report: CostReport; window: Filters }) {
  const money = (n: number) => fmtMoney(n, report.currency);
  const columns = (r: CostRow) => (
    <>
      <td className="num">{money(r.total)}</td>
      <td className="num">{money(r.amounts.compute)}</td>
      <td className="num">{money(r.amounts.read)}</td>
      <td className="num">{money(r.amounts.written)}</td>
      <td className="num">{money(r.amounts.units)}</td>
      <td className="num">{money(r.amounts.storage)}</td>
      <td className="num">{fmtCount(r.steps)}</td>
      <td className="num">{fmtSeconds(r.usage.cpu_seconds)}</td>
      <td className="num">{fmtBytes(r.usage.bytes_written)}</td>
    </>
  );
  if (report.rows.length === 0) return <p className="muted">No step has run {period(window)}.</p>;
  return (
    <table className="list" data-testid="cost-table">
      <thead>
        <tr>
          <th scope="col">{report.by}</th>
          {["Total", "Compute", "Read", "Written", "Units", "Storage", "Steps", "CPU", "Bytes written"].map((h) => (
            <th scope="col" className="num" key={h}>
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {report.rows.map((r) => (
          <tr key={r.key} data-key={r.key}>
            <td>
              <RowKey by={report.by} row={r} />
            </td>
            {columns(r)}
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">total</th>
          {columns(report.total)}
        </tr>
      </tfoot>
    </table>
  );
}
