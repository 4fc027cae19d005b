// Alerts: the rules (those of strata.toml read-only, those made here editable), which subjects
// each has firing now, a form to make or change a rule, a test delivery per rule, and the feed
// of firings and resolutions with what became of each channel's delivery.
import { useEffect, useState } from "react";
import { api, ok, type AlertChannel, type AlertEntry, type AlertRule, type AlertTest, type NewAlertRule } from "../api/client";
import { ErrorNote, Loading, Section } from "../components/common";
import { fmtAgo, fmtTime, plural } from "../lib/format";
import { Link, useTitle } from "../lib/router";
import { useAsync } from "../lib/useAsync";

/** The daemon evaluates the rules at its ticks: the page polls rather than following events. */
const POLL_MS = 5000;

type Kind = "check_failed" | "freshness" | "run_failed" | "cost";

/** A rule's condition, as in strata.toml: `"run_failed"` or an object such as
 * `{"freshness": "fail"}` (the API's schema says object; the string form is valid too). */
type When = string | WhenObject;

type WhenObject = {
  check_failed?: { severity?: string };
  freshness?: string;
  cost?: { per?: string; over?: number; by?: string };
};

/** What the form edits; `toWhen` turns it into the rule's `when` (the TOML form, as JSON). */
interface Draft {
  name: string;
  kind: Kind;
  severity: "" | "error" | "warn";
  freshness: "warn" | "fail";
  per: "materialization" | "day" | "month";
  over: string;
  by: string;
  select: string;
  channels: string[];
}

const EMPTY: Draft = { name: "", kind: "run_failed", severity: "", freshness: "fail", per: "day", over: "1", by: "asset", select: "*", channels: [] };

const KIND_TEXT: Record<Kind, string> = {
  check_failed: "a check fails",
  freshness: "an asset is not fresh",
  run_failed: "a run fails",
  cost: "a cost goes over a budget",
};

function toWhen(d: Draft): When {
  switch (d.kind) {
    case "check_failed":
      return { check_failed: d.severity ? { severity: d.severity } : {} };
    case "freshness":
      return { freshness: d.freshness };
    case "run_failed":
      return "run_failed";
    case "cost":
      return { cost: { per: d.per, over: Number(d.over), by: d.by.trim() || "asset" } };
  }
}

/** A rule back into the form (to edit it). */
function toDraft(rule: AlertRule): Draft {
  const d: Draft = { ...EMPTY, name: rule.name, select: rule.select, channels: [...rule.channels] };
  const when = rule.when as When;
  if (typeof when === "string") return { ...d, kind: when as Kind };
  if (when.check_failed) return { ...d, kind: "check_failed", severity: (when.check_failed.severity ?? "") as Draft["severity"] };
  if (when.freshness) return { ...d, kind: "freshness", freshness: when.freshness as Draft["freshness"] };
  if (when.cost) {
    const c = when.cost;
    return { ...d, kind: "cost", per: (c.per ?? "day") as Draft["per"], over: String(c.over ?? ""), by: c.by ?? "asset" };
  }
  return d;
}

/** "a check fails (severity error)", "cost per month over 100 by tag:team". */
function describeWhen(when: AlertRule["when"]): string {
  const w = when as When;
  if (typeof w === "string") return w === "run_failed" ? KIND_TEXT.run_failed : w;
  if (w.check_failed) return w.check_failed.severity ? `a check of severity ${w.check_failed.severity} fails` : KIND_TEXT.check_failed;
  if (w.freshness) return w.freshness === "fail" ? "an asset is overdue (freshness fail)" : "an asset's freshness warns";
  if (w.cost) return `cost per ${w.cost.per ?? "?"} over ${w.cost.over ?? "?"} by ${w.cost.by ?? "asset"}`;
  return JSON.stringify(w);
}

export function AlertsPage() {
  useTitle("Alerts");
  const rules = useAsync(() => ok(api.GET("/api/v1/alerts/rules")), []);
  const channels = useAsync(() => ok(api.GET("/api/v1/alerts/channels")), []);
  const feed = useAsync(() => ok(api.GET("/api/v1/alerts/history", { params: { query: { limit: 100 } } })), []);
  const [editing, setEditing] = useState<AlertRule | undefined>();
  const [tests, setTests] = useState<Record<string, { result?: AlertTest; error?: string; pending: boolean }>>({});
  const [actionError, setActionError] = useState<string | undefined>();

  const reloadRules = rules.reload;
  const reloadFeed = feed.reload;
  useEffect(() => {
    const timer = setInterval(() => {
      reloadRules();
      reloadFeed();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [reloadRules, reloadFeed]);

  async function test(name: string) {
    setTests((t) => ({ ...t, [name]: { pending: true } }));
    try {
      const result = await ok(api.POST("/api/v1/alerts/rules/{name}/test", { params: { path: { name } } }));
      setTests((t) => ({ ...t, [name]: { result, pending: false } }));
    } catch (e) {
      setTests((t) => ({ ...t, [name]: { error: e instanceof Error ? e.message : String(e), pending: false } }));
    }
    feed.reload();
  }

  async function remove(name: string) {
    if (!window.confirm(`Delete the alert rule ${name}?`)) return;
    setActionError(undefined);
    try {
      await ok(api.DELETE("/api/v1/alerts/rules/{name}", { params: { path: { name } } }));
      if (editing?.name === name) setEditing(undefined);
      rules.reload();
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <div className="alerts-page">
      <h1>Alerts</h1>
      <Section title="Rules" id="rules">
        {rules.error ? <ErrorNote error={rules.error} what="Could not load the rules" /> : null}
        <ErrorNote error={actionError} />
        {!rules.data ? (
          rules.error ? null : (
            <Loading what="the rules" />
          )
        ) : rules.data.rules.length === 0 ? (
          <p className="muted">No rule yet: declare them under [[alerts.rules]] in strata.toml, or make one below.</p>
        ) : (
          <table className="list" data-testid="alert-rules">
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Source</th>
                <th scope="col">When</th>
                <th scope="col">Assets</th>
                <th scope="col">Channels</th>
                <th scope="col">Firing now</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rules.data.rules.map((r) => (
                <tr key={r.name} data-rule={r.name}>
                  <td>
                    <strong>{r.name}</strong>
                  </td>
                  <td>
                    <span className="badge kind" title={r.editable ? "made over the API: editable here" : "declared in strata.toml: edit the file"}>
                      {r.source}
                    </span>
                    {r.editable ? null : <span className="muted small"> read-only</span>}
                  </td>
                  <td>{describeWhen(r.when)}</td>
                  <td>
                    <code>{r.select}</code>
                  </td>
                  <td>{r.channels.join(", ") || <span className="muted">none</span>}</td>
                  <td className="wrap">
                    {r.firing.length === 0 ? (
                      <span className="muted">nothing</span>
                    ) : (
                      <ul className="plain">
                        {r.firing.map((s) => (
                          <li key={s}>
                            <span className="badge s-failed">firing</span> {s}
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td>
                    <div className="button-row">
                      <button type="button" onClick={() => void test(r.name)} disabled={tests[r.name]?.pending} aria-label={`Test ${r.name}`}>
                        {tests[r.name]?.pending ? "Testing…" : "Test"}
                      </button>
                      {r.editable ? (
                        <>
                          <button type="button" onClick={() => setEditing(r)} aria-label={`Edit ${r.name}`}>
                            Edit
                          </button>
                          <button type="button" className="danger" onClick={() => void remove(r.name)} aria-label={`Delete ${r.name}`}>
                            Delete
                          </button>
                        </>
                      ) : null}
                    </div>
                    <TestResult state={tests[r.name]} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title={editing ? `Edit ${editing.name}` : "New rule"} id="rule-form">
        <RuleForm
          key={editing?.name ?? ""}
          editing={editing}
          channels={channels.data?.channels ?? []}
          onSaved={() => {
            setEditing(undefined);
            rules.reload();
          }}
          onCancel={() => setEditing(undefined)}
        />
      </Section>
      <Section title="Feed" id="feed">
        {feed.error ? <ErrorNote error={feed.error} what="Could not load the alerts" /> : null}
        {!feed.data ? feed.error ? null : <Loading what="the alerts" /> : <Feed alerts={feed.data.alerts} />}
      </Section>
    </div>
  );
}

function TestResult({ state }: { state: { result?: AlertTest; error?: string; pending: boolean } | undefined }) {
  if (!state || state.pending) return null;
  if (state.error) return <p className="error-text small">{state.error}</p>;
  const deliveries = state.result?.deliveries ?? [];
  if (deliveries.length === 0) return <p className="muted small">No channel to deliver to.</p>;
  return (
    <ul className="plain small" data-testid="alert-test-result">
      {deliveries.map((d) => (
        <li key={d.channel}>
          {d.channel}: <span className={`badge s-${d.delivered ? "succeeded" : "failed"}`}>{d.delivered ? "delivered" : "failed"}</span>
          {d.http_status ? ` HTTP ${d.http_status}` : ""}
          {d.error ? <span className="muted"> {d.error}</span> : null}
        </li>
      ))}
    </ul>
  );
}

function RuleForm({
  editing,
  channels,
  onSaved,
  onCancel,
}: {
  editing: AlertRule | undefined;
  channels: AlertChannel[];
  onSaved: () => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState<Draft>(() => (editing ? toDraft(editing) : EMPTY));
  const [error, setError] = useState<string | undefined>();
  const [saving, setSaving] = useState(false);
  const set = (change: Partial<Draft>) => setDraft((d) => ({ ...d, ...change }));

  async function save() {
    setSaving(true);
    setError(undefined);
    const body: NewAlertRule = { name: draft.name.trim(), when: toWhen(draft) as NewAlertRule["when"], select: draft.select.trim() || "*", channels: draft.channels };
    try {
      if (editing) await ok(api.PUT("/api/v1/alerts/rules/{name}", { params: { path: { name: editing.name } }, body }));
      else await ok(api.POST("/api/v1/alerts/rules", { body }));
      if (!editing) setDraft(EMPTY);
      onSaved();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setSaving(false);
    }
  }

  return (
    <form
      className="rule-form"
      aria-label={editing ? `Edit ${editing.name}` : "New rule"}
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <div className="field-row">
        <label>
          Name
          <input value={draft.name} required onChange={(e) => set({ name: e.target.value })} placeholder="e.g. nightly-failures" />
        </label>
        <label>
          When
          <select value={draft.kind} onChange={(e) => set({ kind: e.target.value as Kind })}>
            {(Object.keys(KIND_TEXT) as Kind[]).map((k) => (
              <option key={k} value={k}>
                {KIND_TEXT[k]}
              </option>
            ))}
          </select>
        </label>
        {draft.kind === "check_failed" ? (
          <label>
            Severity
            <select value={draft.severity} onChange={(e) => set({ severity: e.target.value as Draft["severity"] })}>
              <option value="">any</option>
              <option value="error">error</option>
              <option value="warn">warn</option>
            </select>
          </label>
        ) : null}
        {draft.kind === "freshness" ? (
          <label>
            Freshness
            <select value={draft.freshness} onChange={(e) => set({ freshness: e.target.value as Draft["freshness"] })}>
              <option value="fail">fail (overdue)</option>
              <option value="warn">warn</option>
            </select>
          </label>
        ) : null}
        {draft.kind === "cost" ? (
          <>
            <label>
              Per
              <select value={draft.per} onChange={(e) => set({ per: e.target.value as Draft["per"] })}>
                <option value="materialization">materialization</option>
                <option value="day">day</option>
                <option value="month">month</option>
              </select>
            </label>
            <label>
              Over
              <input type="number" min="0" step="any" required value={draft.over} onChange={(e) => set({ over: e.target.value })} />
            </label>
            <label>
              By
              <input value={draft.by} onChange={(e) => set({ by: e.target.value })} placeholder="asset, group or tag:KEY" list="cost-by" />
              <datalist id="cost-by">
                <option value="asset" />
                <option value="group" />
                <option value="tag:team" />
              </datalist>
            </label>
          </>
        ) : null}
        <label>
          Assets
          <input value={draft.select} onChange={(e) => set({ select: e.target.value })} placeholder="* (every asset) or a selection" />
        </label>
      </div>
      <fieldset>
        <legend>Channels</legend>
        {channels.length === 0 ? <p className="muted small">No channel: declare one under [alerts.channels] in strata.toml.</p> : null}
        {channels.map((c) => (
          <label key={c.name} className="check">
            <input
              type="checkbox"
              checked={draft.channels.includes(c.name)}
              onChange={(e) => set({ channels: e.target.checked ? [...draft.channels, c.name] : draft.channels.filter((n) => n !== c.name) })}
            />
            {c.name} <span className="muted small">{c.kind}</span>
          </label>
        ))}
      </fieldset>
      <p className="muted small">
        When: <code>{JSON.stringify(toWhen(draft))}</code>
      </p>
      {error ? (
        <p className="error-note" role="alert">
          {error}
        </p>
      ) : null}
      <div className="button-row">
        <button type="submit" className="primary" disabled={saving || !draft.name.trim()}>
          {saving ? "Saving…" : editing ? "Save rule" : "Create rule"}
        </button>
        {editing ? (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

const DELIVERY_STATUS: Record<string, string> = { delivered: "succeeded", failed: "failed", pending: "queued" };

function Feed({ alerts }: { alerts: AlertEntry[] }) {
  if (alerts.length === 0) return <p className="muted">No alert has fired yet.</p>;
  return (
    <table className="list" data-testid="alert-feed">
      <thead>
        <tr>
          <th scope="col">State</th>
          <th scope="col">At</th>
          <th scope="col">Rule</th>
          <th scope="col">Subject</th>
          <th scope="col">Message</th>
          <th scope="col">Deliveries</th>
        </tr>
      </thead>
      <tbody>
        {alerts.map((a) => (
          <tr key={a.id} data-state={a.state} data-rule={a.rule} data-subject={a.subject}>
            <td>
              <span className={`badge ${a.state === "firing" ? "s-failed" : "s-succeeded"}`}>{a.state}</span>
            </td>
            <td title={fmtTime(a.at)}>{fmtAgo(a.at)}</td>
            <td>{a.rule}</td>
            <td>{a.link ? <Link to={a.link}>{a.subject}</Link> : a.subject}</td>
            <td className="wrap">
              {a.message}
              {a.partitions.length > 0 ? (
                <div className="muted small">
                  {plural(a.partitions.length, "partition")}: {a.partitions.slice(0, 5).join(", ")}
                  {a.partitions.length > 5 ? ` and ${a.partitions.length - 5} more` : ""}
                </div>
              ) : null}
            </td>
            <td>
              {a.deliveries.length === 0 ? (
                <span className="muted">none</span>
              ) : (
                <ul className="plain small">
                  {a.deliveries.map((d) => (
                    <li key={d.channel}>
                      {d.channel}: <span className={`badge s-${DELIVERY_STATUS[d.status] ?? "queued"}`}>{d.status}</span>{" "}
                      <span className="muted">
                        {plural(d.attempts, "attempt")}
                        {d.http_status ? `, HTTP ${d.http_status}` : ""}
                        {d.error ? `, ${d.error}` : ""}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
