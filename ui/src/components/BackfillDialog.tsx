// The backfill dialog: which assets (with or without their upstream), which partitions (a
// date range, typed keys, or the missing / failed / stale ones), the second dimension's keys
// of a two-dimensional asset; a dry run shows the partition, step and run counts and the
// estimated cost before the launch; after it, the backfill's progress, live.
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { api, ApiError, assetPath, ok, type Backfill, type CostEstimate, type Created, type NewBackfill } from "../api/client";
import { fmtCount, fmtMoney, plural } from "../lib/format";
import { openStream, RUN_ENDED } from "../lib/live";
import { Link } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { StatusBadge } from "./common";

type Kind = "range" | "keys" | "missing" | "failed" | "stale";

interface Props {
  /** The selected assets' keys. */
  assets: string[];
  onClose: () => void;
  /** Preset range, e.g. from the asset page. */
  initial?: { kind?: Kind; from?: string; to?: string };
}

interface AssetInfo {
  key: string;
  partitions: string | null;
}

/** The first word of a partitions description: `daily`, `hourly`, `static`, `multi`, … */
function grain(description: string | null): string | null {
  return description ? (description.split(/[\s(]/)[0] ?? null) : null;
}

export function BackfillDialog({ assets, onClose, initial }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [upstream, setUpstream] = useState(false);
  const [kind, setKind] = useState<Kind>(initial?.kind ?? "range");
  const [from, setFrom] = useState(initial?.from ?? "");
  const [to, setTo] = useState(initial?.to ?? "");
  const [keys, setKeys] = useState("");
  const [dimensionKeys, setDimensionKeys] = useState<Set<string>>(new Set());
  const [dryRun, setDryRun] = useState<{ result?: Created; error?: string; pending: boolean }>({ pending: false });
  const [launched, setLaunched] = useState<Created | undefined>();
  const [launchError, setLaunchError] = useState<string | undefined>();
  const [launching, setLaunching] = useState(false);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);

  const info = useAsync(
    () =>
      Promise.all(
        assets.map(async (key): Promise<AssetInfo> => {
          const detail = await ok(api.GET("/api/v1/assets/{group}/{name}", { params: { path: assetPath(key) } }));
          return { key, partitions: detail.partitions ?? null };
        }),
      ),
    [assets.join(",")],
  );
  const grains = useMemo(() => new Set((info.data ?? []).map((a) => grain(a.partitions)).filter((g): g is string => g !== null)), [info.data]);
  // Date pickers when every partitioned asset is daily (a two-dimensional one by its time dimension).
  const daily =
    grains.size > 0 &&
    (info.data ?? []).every((a) => a.partitions === null || grain(a.partitions) === "daily" || (grain(a.partitions) === "multi" && /\bdaily\b/.test(a.partitions)));
  const partitioned = grains.size > 0;
  const multi = (info.data ?? []).find((a) => grain(a.partitions) === "multi");

  // The other dimension's keys of a two-dimensional asset, from its first keys.
  const dimension = useAsync(async () => {
    if (!multi) return null;
    const page = await ok(api.GET("/api/v1/assets/{group}/{name}/partitions", { params: { path: assetPath(multi.key), query: { limit: 200 } } }));
    const split = page.partitions.map((p) => p.key.split("|"));
    const firstOuter = split[0]?.[0];
    const inner = split.filter((s) => s[0] === firstOuter).map((s) => s[1] ?? "");
    // The non-time dimension: the inner one unless the inner one looks like dates.
    const innerIsTime = inner.some((k) => /^\d{4}-\d{2}/.test(k));
    const keys = innerIsTime ? [...new Set(split.map((s) => s[0] ?? ""))] : inner;
    return { asset: multi.key, keys };
  }, [multi?.key]);

  const selection = assets.map((a) => (upstream ? `*${a}` : a)).join(",");
  const body = useMemo((): NewBackfill | { error: string } => {
    let partitions: NewBackfill["partitions"];
    if (!partitioned) partitions = undefined;
    else if (kind === "range") {
      if (!from || !to) return { error: "Pick the first and last partition." };
      partitions = { kind: "range", from, to };
    } else if (kind === "keys") {
      const list = keys
        .split(/[\n,]/)
        .map((k) => k.trim())
        .filter(Boolean);
      if (list.length === 0) return { error: "Type at least one partition key." };
      partitions = { kind: "keys", keys: list };
    } else partitions = { kind };
    const request: NewBackfill = { selection, partitions };
    if (dimension.data && dimensionKeys.size > 0) request.dimension_keys = [...dimensionKeys];
    return request;
  }, [partitioned, kind, from, to, keys, selection, dimension.data, dimensionKeys]);

  // The dry run, again whenever the request changes.
  const requestText = JSON.stringify(body);
  useEffect(() => {
    if (launched || !info.data) return;
    if ("error" in body) {
      setDryRun({ pending: false, error: body.error });
      return;
    }
    let live = true;
    setDryRun((d) => ({ ...d, pending: true }));
    const timer = setTimeout(() => {
      ok(api.POST("/api/v1/backfills", { body: { ...body, dry_run: true } })).then(
        (result) => live && setDryRun({ result, pending: false }),
        (e: unknown) => live && setDryRun({ pending: false, error: e instanceof ApiError || e instanceof Error ? e.message : String(e) }),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [requestText, launched, info.data]);

  async function launch() {
    if ("error" in body) return;
    setLaunching(true);
    setLaunchError(undefined);
    try {
      setLaunched(await ok(api.POST("/api/v1/backfills", { body: { ...body, dry_run: false } })));
    } catch (e) {
      setLaunchError(e instanceof Error ? e.message : String(e));
    } finally {
      setLaunching(false);
    }
  }

  const canLaunch = !launching && !dryRun.pending && !!dryRun.result && dryRun.result.partitions > 0;
  const title = `Backfill ${assets.length === 1 ? assets[0] : plural(assets.length, "asset")}`;

  return (
    <dialog
      ref={dialog}
      className="dialog"
      aria-labelledby={`${id}-title`}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (!launched && canLaunch) void launch();
        }}
      >
        <h2 id={`${id}-title`}>{title}</h2>
        {launched ? (
          <Progress created={launched} />
        ) : (
          <>
            <label className="check">
              <input type="checkbox" checked={upstream} onChange={(e) => setUpstream(e.target.checked)} autoFocus />
              Include everything upstream
            </label>
            <p className="muted small">
              Selection: <code>{selection}</code>
            </p>
            {info.error ? <p className="error-note">{info.error.message}</p> : null}
            {partitioned ? (
              <fieldset>
                <legend>Partitions</legend>
                <div className="radio-row" role="radiogroup" aria-label="Which partitions">
                  {(["range", "keys", "missing", "failed", "stale"] as Kind[]).map((k) => (
                    <label key={k}>
                      <input type="radio" name={`${id}-kind`} value={k} checked={kind === k} onChange={() => setKind(k)} />
                      {k === "range" ? "A range" : k === "keys" ? "These keys" : `The ${k} ones`}
                    </label>
                  ))}
                </div>
                {kind === "range" ? (
                  <div className="field-row">
                    {(
                      [
                        ["From", from, setFrom, "first"],
                        ["To (inclusive)", to, setTo, "last"],
                      ] as const
                    ).map(([label, value, set, which]) => (
                      <label key={label}>
                        {label}
                        <input
                          type={daily ? "date" : "text"}
                          value={value}
                          required
                          placeholder={daily ? undefined : `${which} key or date`}
                          onChange={(e) => set(e.target.value)}
                        />
                      </label>
                    ))}
                  </div>
                ) : null}
                {kind === "keys" ? (
                  <label className="block">
                    Keys, one per line or separated by commas
                    <textarea rows={3} value={keys} onChange={(e) => setKeys(e.target.value)} />
                  </label>
                ) : null}
                {dimension.data ? (
                  <fieldset className="dimension">
                    <legend>
                      Keys of {dimension.data.asset}'s other dimension <span className="muted">(none checked: all)</span>
                    </legend>
                    {dimension.data.keys.map((k) => (
                      <label key={k} className="check">
                        <input
                          type="checkbox"
                          checked={dimensionKeys.has(k)}
                          onChange={(e) => {
                            const next = new Set(dimensionKeys);
                            if (e.target.checked) next.add(k);
                            else next.delete(k);
                            setDimensionKeys(next);
                          }}
                        />
                        {k}
                      </label>
                    ))}
                  </fieldset>
                ) : null}
              </fieldset>
            ) : info.data ? (
              <p>Nothing selected is partitioned: each asset is materialized once.</p>
            ) : null}
            <DryRun state={dryRun} />
            {launchError ? (
              <p className="error-note" role="alert">
                {launchError}
              </p>
            ) : null}
          </>
        )}
        <div className="button-row end">
          <button type="button" onClick={onClose}>
            {launched ? "Close" : "Cancel"}
          </button>
          {launched ? null : (
            <button type="submit" className="primary" disabled={!canLaunch}>
              {launching ? "Launching…" : dryRun.result ? `Launch ${plural(dryRun.result.runs, "run")}` : "Launch"}
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}

function DryRun({ state }: { state: { result?: Created; error?: string; pending: boolean } }) {
  return (
    <div className="dry-run" aria-live="polite" aria-busy={state.pending}>
      {state.error ? (
        <p className="error-note" role="alert">
          {state.error}
        </p>
      ) : state.result ? (
        <>
          <p data-testid="dry-run-summary">
            Would materialize <strong>{plural(state.result.partitions, "partition")}</strong> in{" "}
            <strong>{plural(state.result.steps, "step")}</strong> and <strong>{plural(state.result.runs, "run")}</strong>
            {state.pending ? <span className="muted"> (updating…)</span> : null}
          </p>
          <EstimatedCost estimate={state.result.estimated_cost} />
          {state.result.targets.length > 0 ? (
            <table className="compact">
              <thead>
                <tr>
                  <th scope="col">Asset</th>
                  <th scope="col">Partitions</th>
                  <th scope="col">Steps</th>
                  <th scope="col">Ranges</th>
                  <th scope="col">Est. cost</th>
                </tr>
              </thead>
              <tbody>
                {state.result.targets.map((t) => (
                  <tr key={t.asset}>
                    <td>{t.asset}</td>
                    <td className="num">{fmtCount(t.partitions)}</td>
                    <td className="num">{fmtCount(t.steps)}</td>
                    <td>
                      {t.ranges.length === 0
                        ? "—"
                        : t.ranges
                            .slice(0, 3)
                            .map((r) => (r.first === r.last ? r.first : `${r.first} … ${r.last}`))
                            .join(", ") + (t.ranges.length > 3 ? ` and ${t.ranges.length - 3} more ranges` : "")}
                    </td>
                    <td className="num">
                      {t.estimated_cost === null || t.estimated_cost === undefined ? (
                        <span className="muted">unknown</span>
                      ) : (
                        fmtMoney(t.estimated_cost, state.result!.estimated_cost.currency)
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </>
      ) : (
        <p className="muted">{state.pending ? "Counting…" : ""}</p>
      )}
    </div>
  );
}

/** What the dry run's partitions are estimated to cost, from the cost so far of the same assets'
 * partitions; the partitions of assets that never ran have no history and are left out. */
function EstimatedCost({ estimate }: { estimate: CostEstimate }) {
  const all = estimate.estimated_partitions + estimate.unknown_partitions;
  if (all === 0) return null;
  return (
    <p data-testid="dry-run-cost">
      Estimated cost:{" "}
      {estimate.amount === null || estimate.amount === undefined ? (
        <>
          <strong>unknown</strong> <span className="muted">({all === 1 ? "this asset never ran" : "these assets never ran"})</span>
        </>
      ) : (
        <>
          <strong>{fmtMoney(estimate.amount, estimate.currency)}</strong>{" "}
          <span className="muted">
            (from {fmtCount(estimate.estimated_partitions)} of {fmtCount(all)} asset {all === 1 ? "partition's" : "partitions'"} history)
          </span>
        </>
      )}
    </p>
  );
}

/** A launched backfill's progress, kept current by its run's event stream. */
function Progress({ created }: { created: Created }) {
  const [backfill, setBackfill] = useState<Backfill | undefined>();
  const [runStatus, setRunStatus] = useState<string>("queued");
  useEffect(() => {
    const id = created.backfill_id;
    if (!id) return;
    let live = true;
    const refresh = () =>
      ok(api.GET("/api/v1/backfills/{backfill_id}", { params: { path: { backfill_id: id } } })).then(
        (d) => {
          if (!live) return;
          setBackfill(d.backfill);
          const run = d.runs.find((r) => r.run_id === created.run_id) ?? d.runs[0];
          if (run) setRunStatus(run.status);
        },
        () => {},
      );
    void refresh();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const soon = () => {
      if (timer === undefined)
        timer = setTimeout(() => {
          timer = undefined;
          void refresh();
        }, 300);
    };
    const source = created.run_id
      ? openStream(`/api/v1/runs/${encodeURIComponent(created.run_id)}/events`, (r) => {
          if (r.event.type === "log" || r.event.type === "check_evaluation") return;
          soon();
          if (RUN_ENDED.has(r.event.type)) source?.close();
        })
      : undefined;
    // The stream can end between two events: a slow poll closes the gap.
    const poll = setInterval(refresh, 2000);
    return () => {
      live = false;
      source?.close();
      clearInterval(poll);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [created.backfill_id, created.run_id]);

  if (!created.backfill_id) return <p>Nothing to do: no partition is selected.</p>;
  const requested = backfill?.requested ?? created.partitions;
  const done = (backfill?.completed ?? 0) + (backfill?.failed ?? 0);
  const status = backfill?.status ?? "requested";
  const ended = status !== "requested";
  return (
    <div className="progress-view" data-testid="backfill-progress" data-status={status}>
      <p>
        Backfill <code>{created.backfill_id}</code>: <StatusBadge status={ended ? status : runStatus} />
      </p>
      <progress max={Math.max(1, requested)} value={done} aria-label="Partitions done">
        {done} of {requested}
      </progress>
      <p role="status">
        {fmtCount(backfill?.completed ?? 0)} of {fmtCount(requested)} partitions materialized
        {backfill?.failed ? `, ${fmtCount(backfill.failed)} failed` : ""}
        {ended ? ` — ${status}.` : "…"}
      </p>
      {created.run_id ? (
        <p>
          <Link to={`/runs/${created.run_id}`}>Follow its run: steps and live logs</Link>
        </p>
      ) : null}
    </div>
  );
}
