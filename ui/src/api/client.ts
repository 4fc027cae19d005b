// The typed API client: openapi-fetch over the types generated from docs/openapi.json
// (src/api/schema.d.ts, `npm run gen:api`). Every request of the UI goes through `api`.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type AssetSummary = Schemas["AssetSummary"];
export type AssetDetail = Schemas["AssetDetail"];
export type Lineage = Schemas["Lineage"];
export type StatusReport = Schemas["StatusReport"];
export type Ranges = Schemas["Ranges"];
export type Range = Schemas["Range"];
export type KeyRange = Schemas["KeyRange"];
export type Materialization = Schemas["MaterializationEntry"];
export type PartitionDetail = Schemas["PartitionDetail"];
export type Run = Schemas["Run"];
export type RunDetail = Schemas["RunDetail"];
export type Step = Schemas["Step"];
export type Backfill = Schemas["Backfill"];
export type BackfillDetail = Schemas["BackfillDetail"];
export type NewBackfill = Schemas["NewBackfill"];
export type Created = Schemas["Created"];
export type LogLine = Schemas["LogLine"];
export type AssetColumns = Schemas["AssetColumns"];
export type PartitionLineage = Schemas["PartitionLineage"];
export type CostReport = Schemas["CostReportBody"];
export type CostRow = Schemas["CostRowBody"];
export type CostEstimate = Schemas["CostEstimate"];
export type AlertRule = Schemas["AlertRuleBody"];
export type NewAlertRule = Schemas["NewAlertRule"];
export type AlertEntry = Schemas["AlertEntry"];
export type AlertTest = Schemas["TestResult"];
export type AlertChannel = Schemas["ChannelBody"];

export const api = createClient<paths>({ baseUrl: "" });

/** An error answer of the API (`{code, message}`), or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Unwraps an openapi-fetch answer: its data, or an `ApiError` with the server's message. */
export async function ok<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let answer;
  try {
    answer = await request;
  } catch (e) {
    throw new ApiError(0, "network", `the server did not answer: ${String(e)}`);
  }
  const { data, error, response } = answer;
  if (error !== undefined || data === undefined) {
    const body = (error ?? {}) as { code?: string; message?: string };
    throw new ApiError(
      response.status,
      body.code ?? "http_" + response.status,
      body.message ?? `${response.status} ${response.statusText}`,
    );
  }
  return data;
}

/** `group/name` → the path parameters of an asset route. */
export function assetPath(key: string): { group: string; name: string } {
  const [group = "", name = ""] = key.split("/");
  return { group, name };
}
