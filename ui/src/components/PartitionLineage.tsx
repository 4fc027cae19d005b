// One partition's lineage: the upstream partitions (and data versions) it was made from, and the
// downstream partitions made from it, as materializations recorded them.
import { api, assetPath, ok } from "../api/client";
import { shortId } from "../lib/format";
import { assetHref, Link } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { ErrorNote, Loading } from "./common";

export function PartitionLineagePanel({ asset, partition }: { asset: string; partition: string | null }) {
  const lineage = useAsync(
    () =>
      ok(
        api.GET("/api/v1/assets/{group}/{name}/lineage/partitions", {
          params: { path: assetPath(asset), query: partition === null ? {} : { partition } },
        }),
      ),
    [asset, partition],
  );
  if (lineage.error) return <ErrorNote error={lineage.error} what="Partition lineage" />;
  if (!lineage.data) return <Loading what="the partition lineage" />;
  const l = lineage.data;
  const distance = (a: string, p: string | null | undefined) => l.nodes.find((n) => n.asset === a && (n.partition ?? null) === (p ?? null))?.distance ?? 0;
  const up = l.edges.filter((e) => distance(e.downstream, e.partition) <= 0);
  const down = l.edges.filter((e) => distance(e.downstream, e.partition) > 0);
  const range = (first?: string | null, last?: string | null) => (first ? (last && last !== first ? `${first} … ${last}` : first) : "");
  return (
    <div data-testid="partition-lineage">
      <h4>Made from</h4>
      {up.length === 0 ? (
        <p className="muted">nothing upstream</p>
      ) : (
        <ul className="deps">
          {up.map((e, i) => (
            <li key={i} style={{ marginLeft: `${(-distance(e.downstream, e.partition)) * 1.2}em` }}>
              <Link to={assetHref(e.upstream, e.count === 1 ? e.first : undefined)}>{e.upstream}</Link> {range(e.first, e.last)}{" "}
              <span className="muted small">
                → {e.downstream} · data version <code>{shortId(e.data_version)}</code>
              </span>{" "}
              {e.current ? null : <span className="error-text">changed since</span>}
            </li>
          ))}
        </ul>
      )}
      <h4>Used by</h4>
      {down.length === 0 ? (
        <p className="muted">nothing downstream yet</p>
      ) : (
        <ul className="deps">
          {down.map((e, i) => (
            <li key={i}>
              <Link to={assetHref(e.downstream, e.partition)}>{e.downstream}</Link> {e.partition ?? ""}{" "}
              <span className="muted small">← {e.upstream}</span> {e.current ? null : <span className="error-text">read an older version</span>}
            </li>
          ))}
        </ul>
      )}
      {l.truncated ? <p className="muted small">Stopped at {l.nodes.length} partitions.</p> : null}
    </div>
  );
}
