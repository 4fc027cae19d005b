// Automation: the daemon's recent ticks with what each requested, and why any asset (and
// partition) was or was not requested at its latest evaluation.
import { useState } from "react";
import { api, assetPath, ok } from "../api/client";
import { asTicks, asWhy, type TickRequest } from "../api/types";
import { ErrorNote, Loading, Section } from "../components/common";
import { describeSubset, WhyTree } from "../components/WhyTree";
import { fmtCount, fmtDuration, fmtTime, shortId } from "../lib/format";
import { useLiveEvents } from "../lib/live";
import { assetHref, Link, navigate, useLocation, useTitle } from "../lib/router";
import { useAsync } from "../lib/useAsync";

function requestText(r: TickRequest): string {
  if (r.unpartitioned) return "";
  const parts = r.partitions;
  if (parts.length === 0) return "";
  if (typeof parts[0] === "string") return (parts as string[]).slice(0, 3).join(", ") + (parts.length > 3 ? ` and ${parts.length - 3} more` : "");
  return describeSubset(parts as Exclude<TickRequest["partitions"], string[]>);
}

export function AutomationPage() {
  useTitle("Automation");
  const { query } = useLocation();
  const asset = query.get("asset") ?? "";
  const partition = query.get("partition") ?? "";
  const ticks = useAsync(() => ok(api.GET("/api/v1/automation/ticks", { params: { query: { limit: 30 } } })).then((t) => asTicks(t.ticks)), []);
  const assets = useAsync(() => ok(api.GET("/api/v1/assets")), []);
  useLiveEvents(ticks.reload, (t) => t === "run_queued");
  const automated = (assets.data?.assets ?? []).filter((a) => a.automation);
  const [form, setForm] = useState({ asset, partition });
  const why = useAsync(
    () =>
      asset
        ? ok(
            api.GET("/api/v1/automation/assets/{group}/{name}", {
              params: { path: assetPath(asset), query: partition ? { partition } : {} },
            }),
          ).then(asWhy)
        : Promise.resolve(undefined),
    [asset, partition],
  );
  const chosen = automated.find((a) => a.key === form.asset);

  return (
    <div>
      <h1>Automation</h1>
      <Section title="Why was it (not) requested?" id="why">
        <form
          className="field-row"
          onSubmit={(e) => {
            e.preventDefault();
            const q = new URLSearchParams();
            if (form.asset) q.set("asset", form.asset);
            if (form.partition) q.set("partition", form.partition);
            navigate(`/automation?${q}`);
          }}
        >
          <label>
            Asset
            <select value={form.asset} onChange={(e) => setForm({ asset: e.target.value, partition: "" })}>
              <option value="">choose an automated asset</option>
              {automated.map((a) => (
                <option key={a.key} value={a.key}>
                  {a.key}
                </option>
              ))}
            </select>
          </label>
          {chosen?.partitions ? (
            <label>
              Partition <span className="muted">(optional)</span>
              <input value={form.partition} onChange={(e) => setForm({ ...form, partition: e.target.value })} placeholder="e.g. 2013-01-05" />
            </label>
          ) : null}
          <button type="submit" className="primary" disabled={!form.asset}>
            Explain
          </button>
        </form>
        {asset ? (
          <p className="small">
            <Link to={assetHref(asset, partition || undefined)}>Open {asset}</Link>
          </p>
        ) : null}
        {why.error ? <ErrorNote error={why.error} /> : why.data ? <WhyTree why={why.data} /> : asset ? <Loading what="the explanation" /> : null}
      </Section>
      <Section title="Ticks" id="ticks">
        {ticks.error ? <ErrorNote error={ticks.error} /> : null}
        {!ticks.data ? (
          <Loading what="ticks" />
        ) : ticks.data.length === 0 ? (
          <p className="muted">The daemon has not ticked yet.</p>
        ) : (
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Tick</th>
                <th scope="col">At</th>
                <th scope="col" className="num">
                  Took
                </th>
                <th scope="col" className="num">
                  Evaluated
                </th>
                <th scope="col" className="num">
                  Skipped
                </th>
                <th scope="col">Requested</th>
                <th scope="col">Runs</th>
              </tr>
            </thead>
            <tbody>
              {ticks.data.map((t) => (
                <tr key={t.tick}>
                  <td>{t.tick}</td>
                  <td>{fmtTime(t.now)}</td>
                  <td className="num">{fmtDuration(t.duration_ms)}</td>
                  <td className="num">{fmtCount(t.evaluated)}</td>
                  <td className="num">{fmtCount(t.skipped)}</td>
                  <td className="wrap">
                    {t.requested.length === 0 ? (
                      <span className="muted">nothing</span>
                    ) : (
                      <ul className="plain">
                        {t.requested.slice(0, 8).map((r) => (
                          <li key={r.asset}>
                            <Link to={`/automation?asset=${encodeURIComponent(r.asset)}`}>{r.asset}</Link> <span className="muted small">{requestText(r)}</span>
                          </li>
                        ))}
                        {t.requested.length > 8 ? <li className="muted">and {t.requested.length - 8} more assets</li> : null}
                      </ul>
                    )}
                  </td>
                  <td>
                    {t.runs.map((r) => (
                      <div key={r.run_id}>
                        <Link to={`/runs/${r.run_id}`}>{shortId(r.run_id)}</Link>
                      </div>
                    ))}
                    {!t.launched && t.requested.length > 0 ? <span className="muted small">queued for a later tick</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
