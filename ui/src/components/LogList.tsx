import type { LogLine } from "../api/client";
import { fmtTime } from "../lib/format";

/** Log lines, oldest first; with `showStep`, each with its step (asset and partition). */
export function LogList({ lines, showStep = false }: { lines: LogLine[]; showStep?: boolean }) {
  if (lines.length === 0) return <p className="muted">No log lines.</p>;
  return (
    <ol className="logs" data-testid="logs">
      {lines.map((l) => (
        <li key={l.id} className={`log-${l.level}`}>
          <time>{fmtTime(l.at).slice(11)}</time>
          <span className="level">{l.level}</span>
          {showStep && l.asset ? (
            <span className="step-name">
              {l.asset}
              {l.partition ? `[${l.partition}]` : ""}
            </span>
          ) : null}
          <span className="message">{l.message}</span>
        </li>
      ))}
    </ol>
  );
}
