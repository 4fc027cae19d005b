// The lineage graph's layout: dagre's layered layout, left to right, groups as clusters,
// computed in a worker so the page stays responsive, and remembered per graph.
import dagre from "@dagrejs/dagre";

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 46;
const GROUP_LABEL = 16;

export interface LayoutInput {
  nodes: { key: string; group: string }[];
  edges: { from: string; to: string }[];
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Layout {
  /** Node centers, in `nodes` order. */
  nodes: { key: string; x: number; y: number }[];
  /** Edge polylines, in `edges` order. */
  edges: { from: string; to: string; points: [number, number][] }[];
  groups: ({ group: string } & Box)[];
  width: number;
  height: number;
  millis: number;
  /** Whether it was kept from an earlier page load. */
  stored?: boolean;
}

/**
 * Above this many assets, dagre ranks by longest path instead of network simplex (whose deep
 * recursion overflows a worker's stack on big graphs) and skips the crossing-reduction sweeps,
 * keeping its initial depth-first order: they grow faster than linearly and take most of the
 * time on big graphs.
 */
export const FAST_ORDER_ABOVE = 400;

export function computeLayout(input: LayoutInput): Layout {
  const started = performance.now();
  const groups = [...new Set(input.nodes.map((n) => n.group))].sort();
  const clusters = groups.length > 1;
  const big = input.nodes.length > FAST_ORDER_ABOVE;
  const g = new dagre.graphlib.Graph({ compound: clusters, multigraph: false });
  g.setGraph({
    rankdir: "LR",
    nodesep: clusters ? 30 : 14,
    ranksep: 70,
    marginx: 20,
    marginy: 40,
    ranker: big ? "longest-path" : "network-simplex",
  });
  g.setDefaultEdgeLabel(() => ({}));
  if (clusters) for (const group of groups) g.setNode(`group:${group}`, { label: group });
  for (const n of input.nodes) {
    g.setNode(n.key, { width: NODE_WIDTH, height: NODE_HEIGHT });
    if (clusters) g.setParent(n.key, `group:${n.group}`);
  }
  for (const e of input.edges) g.setEdge(e.from, e.to);
  dagre.layout(g, { disableOptimalOrderHeuristic: big });

  const nodes = input.nodes.map((n) => {
    const p = g.node(n.key);
    return { key: n.key, x: p.x, y: p.y };
  });
  const edges = input.edges.map((e) => {
    const points = ((g.edge(e.from, e.to)?.points ?? []) as { x: number; y: number }[]).map((p) => [p.x, p.y] as [number, number]);
    return { ...e, points };
  });
  let boxes: Layout["groups"];
  if (clusters) {
    boxes = groups.map((group) => {
      const c = g.node(`group:${group}`);
      // Room above the nodes for the group's name.
      return { group, x: c.x - c.width / 2, y: c.y - c.height / 2 - GROUP_LABEL, width: c.width, height: c.height + GROUP_LABEL };
    });
  } else {
    // One group: its box is the bounds of the nodes.
    const xs = nodes.map((n) => n.x);
    const ys = nodes.map((n) => n.y);
    const pad = 14;
    const x = Math.min(...xs) - NODE_WIDTH / 2 - pad;
    const y = Math.min(...ys) - NODE_HEIGHT / 2 - pad - 18;
    boxes = groups.map((group) => ({
      group,
      x,
      y,
      width: Math.max(...xs) + NODE_WIDTH / 2 + pad - x,
      height: Math.max(...ys) + NODE_HEIGHT / 2 + pad - y,
    }));
  }
  const graph = g.graph();
  return {
    nodes,
    edges,
    groups: boxes,
    width: graph.width ?? 0,
    height: graph.height ?? 0,
    millis: performance.now() - started,
  };
}

const remembered = new Map<string, Layout>();

function signature(input: LayoutInput): string {
  let h = 0x811c9dc5;
  const feed = (s: string) => {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  };
  for (const n of input.nodes) feed(n.key + "\u0000" + n.group + "\u0001");
  for (const e of input.edges) feed(e.from + "\u0002" + e.to + "\u0003");
  // The version changes with how graphs are laid out, so that no stored layout outlives it.
  return `v1:${input.nodes.length}:${input.edges.length}:${(h >>> 0).toString(36)}`;
}

const STORED = "strata:layout:";

/** The layout kept in the browser's storage for this graph, if any (one graph is kept). */
function stored(key: string): Layout | undefined {
  try {
    const text = localStorage.getItem(STORED + key);
    return text ? { ...(JSON.parse(text) as Layout), stored: true } : undefined;
  } catch {
    return undefined;
  }
}

function store(key: string, layout: Layout): void {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const k = localStorage.key(i);
      if (k?.startsWith(STORED) && k !== STORED + key) localStorage.removeItem(k);
    }
    localStorage.setItem(STORED + key, JSON.stringify(layout));
  } catch {
    // Full or unavailable storage: the next visit lays the graph out again.
  }
}

/**
 * Lays `input` out in a worker (or here, where workers are unavailable). The same graph is laid
 * out once: remembered for the page's life, and kept in the browser's storage for the next load.
 */
export function layoutGraph(input: LayoutInput): Promise<Layout> {
  const key = signature(input);
  const known = remembered.get(key) ?? stored(key);
  if (known) {
    remembered.set(key, known);
    return Promise.resolve(known);
  }
  return new Promise<Layout>((resolve, reject) => {
    const done = (layout: Layout) => {
      remembered.set(key, layout);
      store(key, layout);
      resolve(layout);
    };
    // Where a worker cannot run it, the layout runs here (the page waits meanwhile).
    const here = () => {
      try {
        done(computeLayout(input));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
    let worker: Worker;
    try {
      worker = new Worker(new URL("./layout.worker.ts", import.meta.url), { type: "module" });
    } catch {
      here();
      return;
    }
    worker.onmessage = (e: MessageEvent<{ layout?: Layout; error?: string }>) => {
      worker.terminate();
      if (e.data.layout) done(e.data.layout);
      else here();
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      here();
    };
    worker.postMessage(input);
  });
}
