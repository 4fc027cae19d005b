// An asset's cost: its total so far with what paid for what, the steps and CPU behind it, and
// its cost per day, from the same cost reports as the Costs page (selecting the one asset).
import { useMemo } from "react";
import { api, ok } from "../api/client";
import { fmtBytes, fmtCount, fmtMoney, fmtSeconds } from "../lib/format";
import { RUN_ENDED, useLiveEvents } from "../lib/live";
import { Link } from "../lib/router";
import { throttle, useAsync } from "../lib/useAsync";
import { DailyCostChart } from "./CostChart";
import { ErrorNote, Loading, Section } from "./common";

export function CostSection({ asset }: { asset: string }) {
  const total = useAsync(() => ok(api.GET("/api/v1/costs", { params: { query: { select: asset, by: "asset" } } })), [asset]);
  const daily = useAsync(() => ok(api.GET("/api/v1/costs", { params: { query: { select: asset, by: "day" } } })), [asset]);
  const refresh = useMemo(
    () =>
      throttle(() => {
        total.reload();
        daily.reload();
      }, 2000),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [asset],
  );
  useLiveEvents(refresh, (t) => RUN_ENDED.has(t));

  const error = total.error ?? daily.error;
  const report = total.data;
  const row = report?.rows.find((r) => r.key === asset) ?? report?.total;
  const money = (n: number) => fmtMoney(n, report?.currency ?? "USD");
  return (
    <Section
      title="Cost"
      id="cost"
      actions={
        <Link className="button" to={`/costs?select=${encodeURIComponent(asset)}`}>
          Open in Costs
        </Link>
      }
    >
      {error ? <ErrorNote error={error} /> : null}
      {!report || !row ? (
        error ? null : (
          <Loading what="the cost" />
        )
      ) : row.steps === 0 && row.total === 0 ? (
        <p className="muted">No step of this asset has run yet: it has no cost.</p>
      ) : (
        <div className="asset-cost">
          <dl className="facts" data-testid="asset-cost">
            <dt>Total</dt>
            <dd>
              <strong>{money(row.total)}</strong> <span className="muted small">up to {report.until.slice(0, 10)}</span>
            </dd>
            <dt>Compute</dt>
            <dd>{money(row.amounts.compute)}</dd>
            <dt>Written</dt>
            <dd>
              {money(row.amounts.written)} <span className="muted small">{fmtBytes(row.usage.bytes_written)}</span>
            </dd>
            <dt>Storage</dt>
            <dd>{money(row.amounts.storage)}</dd>
            {row.amounts.read > 0 ? (
              <>
                <dt>Read</dt>
                <dd>
                  {money(row.amounts.read)} <span className="muted small">{fmtBytes(row.usage.bytes_read)}</span>
                </dd>
              </>
            ) : null}
            {row.amounts.units > 0 ? (
              <>
                <dt>Units</dt>
                <dd>
                  {money(row.amounts.units)}{" "}
                  <span className="muted small">
                    {Object.entries(row.usage.units)
                      .map(([unit, n]) => `${fmtCount(n)} ${unit}`)
                      .join(", ")}
                  </span>
                </dd>
              </>
            ) : null}
            <dt>Steps</dt>
            <dd>{fmtCount(row.steps)}</dd>
            <dt>CPU</dt>
            <dd>
              {fmtSeconds(row.usage.cpu_seconds)} <span className="muted small">({fmtSeconds(row.usage.wall_seconds)} elapsed)</span>
            </dd>
          </dl>
          {daily.data ? <DailyCostChart rows={daily.data.rows} currency={daily.data.currency} /> : null}
        </div>
      )}
    </Section>
  );
}
