// Why a partition is stale, worked out from what the API gives (it reports which partitions
// are stale, not why): the code version it was computed with against the current one, the data
// versions it consumed against its inputs' current ones, and whether an input is itself stale
// or missing — Strata's three causes (docs/execution.md).
import { api, assetPath, ok, type AssetDetail, type Materialization, type StatusReport } from "../api/client";
import { asInputs, type InputRead } from "../api/types";

export interface Cause {
  kind: "code" | "data" | "dependencies" | "unknown";
  text: string;
  asset?: string;
  partition?: string;
}

async function latest(asset: string, partition: string | null): Promise<Materialization | undefined> {
  const list = await ok(
    api.GET("/api/v1/assets/{group}/{name}/materializations", {
      params: { path: assetPath(asset), query: partition ? { partition, limit: 1 } : { limit: 1 } },
    }),
  );
  return list.materializations[0];
}

/** Keys compare in definition order for time partitions (their keys sort as text). */
function within(key: string, first: string, last: string): boolean {
  return key === first || key === last || (first < key && key < last);
}

function overlaps(ranges: { first: string; last: string }[] | undefined, first: string, last: string): string | undefined {
  for (const r of ranges ?? []) {
    if (within(r.first, first, last)) return r.first;
    if (within(first, r.first, r.last)) return first;
  }
  return undefined;
}

const statusCache = new Map<string, Promise<StatusReport>>();
function status(asset: string): Promise<StatusReport> {
  let p = statusCache.get(asset);
  if (!p) {
    p = ok(api.GET("/api/v1/assets/{group}/{name}/partitions/status", { params: { path: assetPath(asset) } }));
    statusCache.set(asset, p);
    setTimeout(() => statusCache.delete(asset), 5000);
  }
  return p;
}

async function inputCauses(input: InputRead, consumedAt: string): Promise<Cause[]> {
  const causes: Cause[] = [];
  const upstream = await status(input.asset).catch(() => undefined);
  for (const range of input.ranges) {
    const partitioned = range.first !== undefined && range.first !== null && range.first !== "";
    if (!partitioned || range.count === 1) {
      const key = partitioned ? range.first : null;
      const now = await latest(input.asset, key).catch(() => undefined);
      if (now && now.data_version !== range.data_version) {
        causes.push({
          kind: "data",
          asset: input.asset,
          partition: key ?? undefined,
          text: `${input.asset}${key ? ` ${key}` : ""} has new data: it consumed ${range.data_version}, the current one is ${now.data_version} (materialized ${now.at})`,
        });
      }
    } else {
      // A range is consumed with one digest: a newer materialization inside it changed it.
      const list = await ok(
        api.GET("/api/v1/assets/{group}/{name}/materializations", { params: { path: assetPath(input.asset), query: { limit: 1000 } } }),
      ).catch(() => undefined);
      const newer = list?.materializations.find((m) => m.partition && within(m.partition, range.first, range.last) && m.at > consumedAt);
      if (newer) {
        causes.push({
          kind: "data",
          asset: input.asset,
          partition: newer.partition ?? undefined,
          text: `${input.asset} ${newer.partition} (in the ${range.count} partitions ${range.first} … ${range.last} it read) was materialized again at ${newer.at}`,
        });
      }
    }
    if (upstream && partitioned) {
      const stale = overlaps(upstream.stale?.ranges, range.first, range.last);
      const missing = overlaps(upstream.missing.ranges, range.first, range.last);
      if (stale)
        causes.push({ kind: "dependencies", asset: input.asset, partition: stale, text: `its input ${input.asset} ${stale} is itself stale` });
      if (missing)
        causes.push({ kind: "dependencies", asset: input.asset, partition: missing, text: `its input ${input.asset} ${missing} is missing` });
    } else if (upstream && !partitioned && (upstream.stale?.count ?? 0) > 0) {
      causes.push({ kind: "dependencies", asset: input.asset, text: `its input ${input.asset} is itself stale` });
    }
  }
  return causes;
}

/** The causes of one stale partition (`null`: the asset is unpartitioned). */
export async function staleCauses(detail: AssetDetail, partition: string | null): Promise<Cause[]> {
  const m = await latest(detail.key, partition);
  if (!m) return [{ kind: "unknown", text: "no materialization found" }];
  const causes: Cause[] = [];
  if (detail.code_version && m.code_version !== detail.code_version) {
    causes.push({
      kind: "code",
      text: `the code changed: it was computed with code version ${m.code_version}, the declaration's is now ${detail.code_version} (${detail.path})`,
    });
  }
  const inputs = asInputs(m.inputs);
  const all = await Promise.all(inputs.map((i) => inputCauses(i, m.at).catch(() => [] as Cause[])));
  causes.push(...all.flat());
  // Declared dependencies it did not read when it was materialized.
  const read = new Set(inputs.map((i) => i.asset));
  for (const dep of detail.upstream) {
    if (!read.has(dep.asset) && inputs.length > 0)
      causes.push({ kind: "dependencies", asset: dep.asset, text: `${dep.asset} is a dependency it did not read when it was materialized` });
  }
  if (causes.length === 0)
    causes.push({ kind: "unknown", text: "a cause further upstream: an input of an input changed (follow the upstream assets' stale partitions)" });
  return causes;
}
