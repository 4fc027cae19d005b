// Live updates: one EventSource on `/api/v1/events` for the whole app, and run streams.
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import type { EventRecord } from "../api/types";

/** Event kinds of the log (docs/storage.md); the streams name each event by its kind. */
export const EVENT_KINDS = [
  "run_queued", "run_started", "run_succeeded", "run_failed", "run_canceled", "run_cancel_requested",
  "step_started", "step_succeeded", "step_failed", "step_retrying", "materialization", "observation",
  "check_evaluation", "log", "backfill_created", "backfill_progressed", "backfill_finished",
  "dynamic_partitions_added", "dynamic_partitions_removed", "files_deleted", "freshness_changed",
] as const;

export const RUN_ENDED = new Set(["run_succeeded", "run_failed", "run_canceled"]);

type Listener = (record: EventRecord) => void;

interface Live {
  subscribe: (listener: Listener) => () => void;
  connected: boolean;
}

const LiveContext = createContext<Live>({ subscribe: () => () => {}, connected: false });

/** Opens `url` as server-sent events and hands every event record to `onEvent`. */
export function openStream(url: string, onEvent: Listener, onOpen?: (open: boolean) => void): EventSource {
  const source = new EventSource(url);
  const handle = (e: MessageEvent<string>) => {
    try {
      onEvent(JSON.parse(e.data) as EventRecord);
    } catch {
      // Not an event record: nothing to show.
    }
  };
  for (const kind of EVENT_KINDS) source.addEventListener(kind, handle);
  source.onmessage = handle;
  source.onopen = () => onOpen?.(true);
  source.onerror = () => onOpen?.(false);
  return source;
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const source = openStream("/api/v1/events", (r) => listeners.current.forEach((l) => l(r)), setConnected);
    return () => source.close();
  }, []);
  const [value] = useState<Omit<Live, "connected">>(() => ({
    subscribe: (listener: Listener) => {
      listeners.current.add(listener);
      return () => listeners.current.delete(listener);
    },
  }));
  return <LiveContext.Provider value={{ ...value, connected }}>{children}</LiveContext.Provider>;
}

/** Calls `onEvent` for every live event whose kind passes `filter`. */
export function useLiveEvents(onEvent: Listener, filter?: (type: string) => boolean): void {
  const { subscribe } = useContext(LiveContext);
  const handler = useRef(onEvent);
  const accept = useRef(filter);
  useEffect(() => {
    handler.current = onEvent;
    accept.current = filter;
  });
  useEffect(
    () => subscribe((r) => (accept.current?.(r.event.type) ?? true) && handler.current(r)),
    [subscribe],
  );
}

export function useLiveConnected(): boolean {
  return useContext(LiveContext).connected;
}

/**
 * Reads a finished run's whole event stream (the server ends it after the run's final event)
 * with one request; for a run still going, `openStream` follows it live.
 */
export async function readRunEvents(runId: string, signal?: AbortSignal): Promise<EventRecord[]> {
  const response = await fetch(`/api/v1/runs/${encodeURIComponent(runId)}/events`, { signal });
  if (!response.ok) return [];
  const text = await response.text();
  const records: EventRecord[] = [];
  for (const block of text.split("\n\n")) {
    const data = block
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trimStart())
      .join("\n");
    if (!data) continue;
    try {
      records.push(JSON.parse(data) as EventRecord);
    } catch {
      // A partial block at the end of a cut stream.
    }
  }
  return records;
}
