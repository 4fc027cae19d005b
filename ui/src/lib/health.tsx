// Every asset's health at a glance, for the graph and the catalog: which partition states it
// has (one `GET /assets?status=…` per state, so 2,000 assets cost six requests, not 2,000) and
// its freshness. Refreshed when the event log says something changed.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ok } from "../api/client";
import { asFreshness, type Freshness, type FreshnessState } from "../api/types";
import { throttle } from "./useAsync";
import { useLiveEvents } from "./live";

export const STATES = ["materialized", "missing", "failed", "in_progress", "stale"] as const;
export type PartitionState = (typeof STATES)[number];

/** The one word an asset's node is coloured by. */
export type Headline = "failed" | "in_progress" | "stale" | "partial" | "materialized" | "missing" | "unknown";

export interface Health {
  states: Set<PartitionState>;
  headline: Headline;
  freshness?: Freshness;
}

export const HEADLINE_TEXT: Record<Headline, string> = {
  failed: "failed",
  in_progress: "in progress",
  stale: "stale",
  partial: "partly materialized",
  materialized: "materialized",
  missing: "missing",
  unknown: "loading",
};

export function headline(states: Set<PartitionState>): Headline {
  if (states.has("failed")) return "failed";
  if (states.has("in_progress")) return "in_progress";
  if (states.has("stale")) return "stale";
  if (states.has("materialized")) return states.has("missing") ? "partial" : "materialized";
  return "missing";
}

export const FRESHNESS_TEXT: Record<FreshnessState, string> = {
  fresh: "fresh",
  warn: "freshness warning",
  fail: "overdue",
  unknown: "freshness unknown",
};

interface HealthIndex {
  of: (key: string) => Health;
  loaded: boolean;
  error?: string;
  refresh: () => void;
}

const UNKNOWN: Health = { states: new Set(), headline: "unknown" };
const HealthContext = createContext<HealthIndex>({ of: () => UNKNOWN, loaded: false, refresh: () => {} });

async function loadHealth(): Promise<Map<string, Health>> {
  const [lists, freshness] = await Promise.all([
    Promise.all(STATES.map((status) => ok(api.GET("/api/v1/assets", { params: { query: { status } } })))),
    ok(api.GET("/api/v1/freshness")),
  ]);
  const byKey = new Map<string, Set<PartitionState>>();
  lists.forEach((list, i) => {
    for (const asset of list.assets) {
      const states = byKey.get(asset.key) ?? new Set();
      states.add(STATES[i]!);
      byKey.set(asset.key, states);
    }
  });
  const result = new Map<string, Health>();
  for (const [key, states] of byKey) result.set(key, { states, headline: headline(states) });
  for (const f of asFreshness(freshness.assets)) {
    const h = result.get(f.asset) ?? { states: new Set(), headline: "missing" as Headline };
    result.set(f.asset, { ...h, freshness: f });
  }
  return result;
}

export function HealthProvider({ children }: { children: ReactNode }) {
  const [map, setMap] = useState<Map<string, Health> | undefined>();
  const [error, setError] = useState<string | undefined>();
  const refresh = useCallback(() => {
    loadHealth().then(
      (m) => {
        setMap(m);
        setError(undefined);
      },
      (e: unknown) => setError(String(e instanceof Error ? e.message : e)),
    );
  }, []);
  useEffect(refresh, [refresh]);
  const later = useMemo(() => throttle(refresh, 2500), [refresh]);
  useLiveEvents(later, (type) => type !== "log" && type !== "check_evaluation");
  const value = useMemo<HealthIndex>(
    () => ({
      of: (key) => map?.get(key) ?? (map ? { states: new Set(), headline: "missing" } : UNKNOWN),
      loaded: map !== undefined,
      error,
      refresh,
    }),
    [map, error, refresh],
  );
  return <HealthContext.Provider value={value}>{children}</HealthContext.Provider>;
}

export function useHealth(): HealthIndex {
  return useContext(HealthContext);
}
