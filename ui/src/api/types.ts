// Shapes the OpenAPI document leaves as plain objects (the CLI's `--json` documents, event
// records), written out from docs/api.md and the server's answers. Narrowed once, here.
import type { KeyRange } from "./client";

/** A key range with its size, as automation explanations and requests give them. */
export interface CountedRange extends KeyRange {
  count: number;
}

/** `true`/`false` for an unpartitioned asset, else key ranges. */
export type Subset = CountedRange[] | boolean;

export interface WhyNode {
  label: string;
  meaning: string;
  asset: string | null;
  candidates: Subset;
  true: Subset;
  since: string | null;
  children: WhyNode[];
}

export interface Why {
  asset: string;
  condition: string;
  tick: number;
  now: string;
  partition: string | null;
  requested: Subset;
  explanation: WhyNode;
}

export interface TickRequest {
  asset: string;
  partitions: CountedRange[] | string[];
  unpartitioned?: boolean;
}

export interface Tick {
  tick: number;
  now: string;
  duration_ms: number;
  evaluated: number;
  skipped: number;
  requested: TickRequest[];
  runs: { run_id: string; targets: TickRequest[] }[];
  launched: boolean;
}

export type FreshnessState = "fresh" | "warn" | "fail" | "unknown";

export interface Freshness {
  asset: string;
  state: FreshnessState;
  evaluated_at: string | null;
  data_time: string | null;
  lag_seconds: number | null;
  overdue_seconds: number | null;
  fresh_until: string | null;
  missing: string[];
  reason: string;
  since: string | null;
}

/** What a materialization read of one dependency. */
export interface InputRead {
  asset: string;
  ranges: (CountedRange & { data_version: string })[];
}

/** One record of the event log as the event streams send it. */
export interface EventRecord {
  id: number;
  timestamp: number;
  event: { type: string; [field: string]: unknown };
}

export function asWhy(value: unknown): Why {
  return value as Why;
}
export function asTicks(value: unknown[]): Tick[] {
  return value as Tick[];
}
export function asFreshness(value: unknown[]): Freshness[] {
  return value as Freshness[];
}
export function asInputs(value: unknown[]): InputRead[] {
  return value as InputRead[];
}
