import type { ReactNode } from "react";
import type { FreshnessState } from "../api/types";
import { FRESHNESS_TEXT, HEADLINE_TEXT, type Headline } from "../lib/health";

export function ErrorNote({ error, what }: { error: Error | string | undefined; what?: string }) {
  if (!error) return null;
  const message = typeof error === "string" ? error : error.message;
  return (
    <div className="error-note" role="alert">
      {what ? <strong>{what}: </strong> : null}
      {message}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function HealthBadge({ headline }: { headline: Headline }) {
  return <span className={`badge h-${headline}`}>{HEADLINE_TEXT[headline]}</span>;
}

export function FreshnessBadge({ state }: { state: FreshnessState }) {
  return <span className={`badge f-${state}`}>{FRESHNESS_TEXT[state]}</span>;
}

/** A run's or step's status, coloured. */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge s-${status}`}>{status.replace("_", " ")}</span>;
}

export function Section({ title, children, actions, id }: { title: string; children: ReactNode; actions?: ReactNode; id?: string }) {
  const headingId = `${id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-heading`;
  return (
    <section className="panel" aria-labelledby={headingId} id={id}>
      <div className="panel-head">
        <h2 id={headingId}>{title}</h2>
        {actions ? <div className="panel-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

export function Tags({ tags }: { tags: Record<string, string> }) {
  const entries = Object.entries(tags);
  if (entries.length === 0) return <span className="muted">none</span>;
  return (
    <span className="tags">
      {entries.map(([k, v]) => (
        <span className="tag" key={k}>
          {k}={v}
        </span>
      ))}
    </span>
  );
}
