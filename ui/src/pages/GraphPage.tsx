// The asset graph: the lineage DAG laid out left to right by dagre, groups as boxes, nodes
// coloured by health and freshness, or by what each cost so far; pan (drag, arrow keys), zoom (wheel, +/-), search,
// selection, and a backfill of the selection.
import { memo, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from "react";
import { api, ok, type Lineage } from "../api/client";
import { BackfillDialog } from "../components/BackfillDialog";
import { ErrorNote, FreshnessBadge, HealthBadge, Loading } from "../components/common";
import { fmtMoney } from "../lib/format";
import { HEADLINE_TEXT, useHealth, type Headline, type Health } from "../lib/health";
import { RUN_ENDED, useLiveEvents } from "../lib/live";
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, type Layout } from "../lib/layout";
import { assetHref, Link, navigate, useLocation, useTitle } from "../lib/router";
import { useAsync } from "../lib/useAsync";

interface View {
  x: number;
  y: number;
  k: number;
}

const MIN_ZOOM = 0.004;
const MAX_ZOOM = 2.5;
/** Below this zoom, labels are hidden (they would be unreadable, and cost the most to paint). */
const LABEL_ZOOM = 0.4;

type Colouring = "health" | "cost";

/** Each asset's total cost so far and the shades it falls in. */
interface Costs {
  currency: string;
  of: (key: string) => number | undefined;
  scale: CostScale;
}

interface CostScale {
  /** 0 (no cost recorded) to `LEVELS`. */
  level: (amount: number | undefined) => number;
  /** The cheapest and the dearest asset's cost (0 when none cost anything). */
  low: number;
  high: number;
}

const LEVELS = 5;

/**
 * Shades on a logarithmic scale from the cheapest asset to the dearest: costs spread over
 * orders of magnitude (a source that copies a file next to a join over a year of data), and a
 * linear scale would leave all but the dearest few in the palest shade.
 */
function costScale(amounts: number[]): CostScale {
  const positive = amounts.filter((a) => a > 0);
  if (positive.length === 0) return { level: () => 0, low: 0, high: 0 };
  const low = Math.min(...positive);
  const high = Math.max(...positive);
  const span = Math.log(high) - Math.log(low);
  return {
    low,
    high,
    level: (amount) => {
      if (!amount || amount <= 0) return 0;
      if (span === 0) return LEVELS;
      return Math.min(LEVELS, Math.max(1, Math.ceil(((Math.log(amount) - Math.log(low)) / span) * LEVELS)));
    },
  };
}

export function GraphPage() {
  useTitle("Asset graph");
  const { query } = useLocation();
  const lineage = useAsync(() => ok(api.GET("/api/v1/lineage")), []);
  const [layout, setLayout] = useState<Layout | undefined>();
  const [layoutError, setLayoutError] = useState<string | undefined>();
  const health = useHealth();
  const [selected, setSelected] = useState<Set<string>>(() => new Set(query.get("select")?.split(",").filter(Boolean) ?? []));
  const [search, setSearch] = useState("");
  const [dialog, setDialog] = useState(false);
  const [colouring, setColouring] = useState<Colouring>("health");
  // The costs only when asked for: the health colouring needs none of it.
  const costReport = useAsync(
    () => (colouring === "cost" ? ok(api.GET("/api/v1/costs", { params: { query: { by: "asset" } } })) : Promise.resolve(undefined)),
    [colouring],
  );
  useLiveEvents(() => colouring === "cost" && costReport.reload(), (t) => RUN_ENDED.has(t));
  const costs = useMemo((): Costs | undefined => {
    const report = costReport.data;
    if (!report) return undefined;
    const totals = new Map(report.rows.map((r) => [r.key, r.total]));
    return { currency: report.currency, of: (key) => totals.get(key), scale: costScale([...totals.values()]) };
  }, [costReport.data]);

  useEffect(() => {
    if (!lineage.data) return;
    let live = true;
    const started = performance.now();
    layoutGraph({
      nodes: lineage.data.nodes.map((n) => ({ key: n.key, group: n.group })),
      edges: lineage.data.edges.map((e) => ({ from: e.from, to: e.to })),
    }).then(
      (l) => {
        if (!live) return;
        setLayout(l);
        performance.mark("strata:graph-layout", { detail: { layoutMs: l.millis, waitedMs: performance.now() - started } });
      },
      (e: unknown) => live && setLayoutError(String(e)),
    );
    return () => {
      live = false;
    };
  }, [lineage.data]);

  const matches = useMemo(() => {
    const text = search.trim().toLowerCase();
    if (!text || !lineage.data) return null;
    return new Set(lineage.data.nodes.filter((n) => n.key.toLowerCase().includes(text)).map((n) => n.key));
  }, [search, lineage.data]);

  const select = useCallback((key: string, add: boolean) => {
    setSelected((current) => {
      const next = new Set(add ? current : []);
      if (add && current.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  }, []);

  useEffect(() => {
    const keys = [...selected].join(",");
    navigate(keys ? `/?select=${encodeURIComponent(keys)}` : "/", true);
  }, [selected]);

  const extend = (direction: "up" | "down") => {
    if (!lineage.data) return;
    const next = new Set(selected);
    for (const e of lineage.data.edges) {
      if (direction === "up" && selected.has(e.to)) next.add(e.from);
      if (direction === "down" && selected.has(e.from)) next.add(e.to);
    }
    setSelected(next);
  };

  if (lineage.error) return <ErrorNote error={lineage.error} what="Could not load the lineage" />;
  const count = lineage.data?.nodes.length ?? 0;

  return (
    <div className="graph-page">
      <div className="graph-toolbar">
        <h1 className="visually-hidden">Asset graph</h1>
        <label className="search">
          <span className="visually-hidden">Search assets</span>
          <input
            type="search"
            placeholder={`Search ${count.toLocaleString("en-US")} assets`}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && matches && matches.size > 0) {
                const first = [...matches][0]!;
                select(first, false);
                window.dispatchEvent(new CustomEvent("strata:focus-node", { detail: first }));
              }
            }}
          />
        </label>
        {matches ? (
          <span className="muted" role="status">
            {matches.size} matching
          </span>
        ) : null}
        <fieldset className="colouring">
          <legend>Colour by</legend>
          {(["health", "cost"] as Colouring[]).map((c) => (
            <label key={c}>
              <input type="radio" name="colouring" value={c} checked={colouring === c} onChange={() => setColouring(c)} />
              {c}
            </label>
          ))}
        </fieldset>
        {colouring === "cost" ? <CostLegend costs={costs} error={costReport.error} /> : <Legend />}
      </div>
      <div className="graph-body">
        {layoutError ? <ErrorNote error={layoutError} what="Could not lay out the graph" /> : null}
        {!layout || !lineage.data ? (
          <div className="graph-canvas">
            <Loading what={lineage.data ? `the layout of ${count.toLocaleString("en-US")} assets` : "the lineage"} />
          </div>
        ) : (
          <GraphCanvas
            lineage={lineage.data}
            layout={layout}
            health={health.of}
            costs={colouring === "cost" ? costs : undefined}
            selected={selected}
            matches={matches}
            onSelect={select}
            onClear={() => setSelected(new Set())}
          />
        )}
        <aside className="graph-side" aria-label="Selection">
          <h2>Selection</h2>
          {selected.size === 0 ? (
            <p className="muted">Click an asset to select it; shift-click to add more. Double-click opens it.</p>
          ) : (
            <>
              <ul className="selection-list">
                {[...selected].map((key) => {
                  const h = health.of(key);
                  return (
                    <li key={key}>
                      <Link to={assetHref(key)}>{key}</Link> <HealthBadge headline={h.headline} />
                      {h.freshness && h.freshness.state !== "fresh" ? <FreshnessBadge state={h.freshness.state} /> : null}
                    </li>
                  );
                })}
              </ul>
              <div className="button-row">
                <button type="button" className="primary" onClick={() => setDialog(true)}>
                  Backfill {selected.size === 1 ? "asset" : `${selected.size} assets`}…
                </button>
                <button type="button" onClick={() => extend("up")}>
                  Add upstream
                </button>
                <button type="button" onClick={() => extend("down")}>
                  Add downstream
                </button>
                <button type="button" onClick={() => setSelected(new Set())}>
                  Clear
                </button>
              </div>
            </>
          )}
          {matches && matches.size > 0 ? (
            <>
              <h2>Matches</h2>
              <ul className="selection-list">
                {[...matches].slice(0, 30).map((key) => (
                  <li key={key}>
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        select(key, false);
                        window.dispatchEvent(new CustomEvent("strata:focus-node", { detail: key }));
                      }}
                    >
                      {key}
                    </button>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {layout ? (
            <p className="muted small">
              {count.toLocaleString("en-US")} assets, {lineage.data?.edges.length.toLocaleString("en-US")} dependencies;{" "}
              {layout.stored ? "layout kept from an earlier visit" : `laid out in ${Math.round(layout.millis)} ms`}.
            </p>
          ) : null}
        </aside>
      </div>
      {dialog ? <BackfillDialog assets={[...selected]} onClose={() => setDialog(false)} /> : null}
    </div>
  );
}

function Legend() {
  const items: Headline[] = ["materialized", "partial", "missing", "stale", "failed", "in_progress"];
  return (
    <ul className="legend" aria-label="Legend">
      {items.map((h) => (
        <li key={h}>
          <span className={`swatch h-${h}`} aria-hidden="true" />
          {HEADLINE_TEXT[h]}
        </li>
      ))}
      <li>
        <span className="swatch f-warn-ring" aria-hidden="true" />
        freshness warn
      </li>
      <li>
        <span className="swatch f-fail-ring" aria-hidden="true" />
        overdue
      </li>
    </ul>
  );
}

/** The cost shades, cheapest to dearest, between the cheapest and the dearest asset's cost. */
function CostLegend({ costs, error }: { costs: Costs | undefined; error: Error | undefined }) {
  if (error) return <ErrorNote error={error} what="Could not load the costs" />;
  if (!costs) return <Loading what="the costs" />;
  const { low, high } = costs.scale;
  return (
    <ul className="legend" aria-label="Legend" data-testid="cost-legend">
      <li>
        <span className="swatch cost-level-0" aria-hidden="true" />
        no cost recorded
      </li>
      {high > 0 ? (
        <li>
          {fmtMoney(low, costs.currency)}
          {Array.from({ length: LEVELS }, (_, i) => (
            <span key={i} className={`swatch cost-level-${i + 1}`} aria-hidden="true" />
          ))}
          {fmtMoney(high, costs.currency)}
          <span className="visually-hidden">: paler is cheaper, on a logarithmic scale</span>
        </li>
      ) : null}
    </ul>
  );
}

interface CanvasProps {
  lineage: Lineage;
  layout: Layout;
  health: (key: string) => Health;
  /** Colour by cost instead of health. */
  costs: Costs | undefined;
  selected: Set<string>;
  matches: Set<string> | null;
  onSelect: (key: string, add: boolean) => void;
  onClear: () => void;
}

function GraphCanvas({ lineage, layout, health, costs, selected, matches, onSelect, onClear }: CanvasProps) {
  const svg = useRef<SVGSVGElement>(null);
  const scene = useRef<SVGGElement>(null);
  const view = useRef<View>({ x: 0, y: 0, k: 1 });
  const drag = useRef<{ x: number; y: number; moved: boolean; id: number } | null>(null);
  const positions = useMemo(() => new Map(layout.nodes.map((n) => [n.key, n])), [layout]);

  const apply = useCallback(() => {
    const { x, y, k } = view.current;
    scene.current?.setAttribute("transform", `translate(${x} ${y}) scale(${k})`);
    // The class toggles directly: a React render per frame would cost more than the frame.
    svg.current?.classList.toggle("far", k < LABEL_ZOOM);
  }, []);

  const fit = useCallback(() => {
    const el = svg.current;
    if (!el) return;
    const { width, height } = el.getBoundingClientRect();
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Math.min(width / (layout.width + 40), height / (layout.height + 40), 1.2)));
    view.current = { k, x: (width - layout.width * k) / 2, y: (height - layout.height * k) / 2 };
    apply();
  }, [layout, apply]);

  const zoomAt = useCallback(
    (factor: number, cx: number, cy: number) => {
      const v = view.current;
      const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, v.k * factor));
      view.current = { k, x: cx - ((cx - v.x) * k) / v.k, y: cy - ((cy - v.y) * k) / v.k };
      apply();
    },
    [apply],
  );

  const center = useCallback(
    (key: string) => {
      const p = positions.get(key);
      const el = svg.current;
      if (!p || !el) return;
      const { width, height } = el.getBoundingClientRect();
      const k = Math.max(view.current.k, 0.8);
      view.current = { k, x: width / 2 - p.x * k, y: height / 2 - p.y * k };
      apply();
    },
    [positions, apply],
  );

  // The whole graph at first, or the selection it was opened with (`/?select=…`).
  const initial = useRef([...selected]);
  useEffect(() => {
    fit();
    const first = initial.current[0];
    if (first) center(first);
  }, [fit, center]);

  // For the benchmark (bench/ui): the first frame painted with every node.
  useEffect(() => {
    requestAnimationFrame(() =>
      setTimeout(() => performance.mark("strata:graph-rendered", { detail: { nodes: layout.nodes.length, layoutMs: layout.millis } }), 0),
    );
  }, [layout]);

  useEffect(() => {
    const onFocus = (e: Event) => center((e as CustomEvent<string>).detail);
    window.addEventListener("strata:focus-node", onFocus);
    return () => window.removeEventListener("strata:focus-node", onFocus);
  }, [center]);

  // A wheel listener that may prevent the page from scrolling (React's is passive).
  useEffect(() => {
    const el = svg.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), e.clientX - r.left, e.clientY - r.top);
    };
    el.addEventListener("wheel", onWheel, { passive: false });
    return () => el.removeEventListener("wheel", onWheel);
  }, [zoomAt]);

  const nodeAt = (target: EventTarget | null): string | null => {
    const el = (target as Element | null)?.closest?.("[data-key]");
    return el?.getAttribute("data-key") ?? null;
  };

  const down = (e: PointerEvent<SVGSVGElement>) => {
    if (e.button !== 0) return;
    drag.current = { x: e.clientX, y: e.clientY, moved: false, id: e.pointerId };
  };
  const move = (e: PointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!d.moved) svg.current?.setPointerCapture(d.id);
    d.moved = true;
    d.x = e.clientX;
    d.y = e.clientY;
    view.current = { ...view.current, x: view.current.x + dx, y: view.current.y + dy };
    apply();
  };
  const up = (e: PointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    drag.current = null;
    if (!d || d.moved) return;
    const key = nodeAt(e.target);
    if (key) onSelect(key, e.shiftKey || e.metaKey || e.ctrlKey);
    else onClear();
  };
  const keys = (e: KeyboardEvent<SVGSVGElement>) => {
    const step = 60;
    const r = svg.current?.getBoundingClientRect();
    const moves: Record<string, [number, number]> = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    const m = moves[e.key];
    if (m) {
      view.current = { ...view.current, x: view.current.x + m[0], y: view.current.y + m[1] };
      apply();
    } else if ((e.key === "+" || e.key === "=") && r) zoomAt(1.25, r.width / 2, r.height / 2);
    else if (e.key === "-" && r) zoomAt(0.8, r.width / 2, r.height / 2);
    else if (e.key === "0") fit();
    else if (e.key === "Escape") onClear();
    else return;
    e.preventDefault();
  };

  const highlighted = useMemo(
    () => lineage.edges.map((e, i) => (selected.has(e.from) || selected.has(e.to) ? i : -1)).filter((i) => i >= 0),
    [lineage.edges, selected],
  );

  return (
    <div className="graph-canvas">
      <svg
        ref={svg}
        className={`graph${view.current.k < LABEL_ZOOM ? " far" : ""}${matches ? " searching" : ""}${costs ? " by-cost" : ""}`}
        role="application"
        aria-label={`Lineage graph of ${lineage.nodes.length} assets. Arrow keys pan, plus and minus zoom, 0 fits, Escape clears the selection.`}
        tabIndex={0}
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={up}
        onPointerCancel={() => (drag.current = null)}
        onDoubleClick={(e) => {
          const key = nodeAt(e.target);
          if (key) navigate(assetHref(key));
        }}
        onKeyDown={keys}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L8,4 L0,8 z" className="arrowhead" />
          </marker>
        </defs>
        <g ref={scene}>
          <Groups layout={layout} />
          <Edges layout={layout} />
          <g className="edges highlighted">
            {highlighted.map((i) => (
              <path key={i} d={edgePath(layout.edges[i]!.points)} markerEnd="url(#arrow)" />
            ))}
          </g>
          <Nodes layout={layout} lineage={lineage} health={health} costs={costs} matches={matches} />
          <g className="selection">
            {[...selected].map((key) => {
              const p = positions.get(key);
              return p ? (
                <rect key={key} x={p.x - NODE_WIDTH / 2 - 4} y={p.y - NODE_HEIGHT / 2 - 4} width={NODE_WIDTH + 8} height={NODE_HEIGHT + 8} rx={10} />
              ) : null;
            })}
          </g>
        </g>
      </svg>
      <div className="zoom-buttons">
        <button type="button" aria-label="Zoom in" onClick={() => zoomAt(1.25, (svg.current?.clientWidth ?? 0) / 2, (svg.current?.clientHeight ?? 0) / 2)}>
          +
        </button>
        <button type="button" aria-label="Zoom out" onClick={() => zoomAt(0.8, (svg.current?.clientWidth ?? 0) / 2, (svg.current?.clientHeight ?? 0) / 2)}>
          −
        </button>
        <button type="button" aria-label="Fit the graph" onClick={fit}>
          ⤢
        </button>
      </div>
    </div>
  );
}

function edgePath(points: [number, number][]): string {
  if (points.length === 0) return "";
  const [first, ...rest] = points;
  if (rest.length === 0) return `M${first![0]},${first![1]}`;
  // A smooth curve through the points: quadratic segments between the midpoints.
  let d = `M${first![0]},${first![1]}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i]!;
    const q = rest[i + 1]!;
    d += ` Q${p[0]},${p[1]} ${(p[0] + q[0]) / 2},${(p[1] + q[1]) / 2}`;
  }
  const last = rest[rest.length - 1]!;
  return d + ` L${last[0]},${last[1]}`;
}

const Groups = memo(function Groups({ layout }: { layout: Layout }) {
  return (
    <g className="groups">
      {layout.groups.map((g) => (
        <g key={g.group}>
          <rect x={g.x} y={g.y} width={g.width} height={g.height} rx={12} />
          <text x={g.x + 12} y={g.y + 19}>
            {g.group}
          </text>
        </g>
      ))}
    </g>
  );
});

const Edges = memo(function Edges({ layout }: { layout: Layout }) {
  // One path for every edge: a single element is far cheaper to paint than thousands.
  const d = useMemo(() => layout.edges.map((e) => edgePath(e.points)).join(" "), [layout]);
  return (
    <g className="edges">
      <path d={d} />
    </g>
  );
});

interface NodesProps {
  layout: Layout;
  lineage: Lineage;
  health: (key: string) => Health;
  costs: Costs | undefined;
  matches: Set<string> | null;
}

const Nodes = memo(function Nodes({ layout, lineage, health, costs, matches }: NodesProps) {
  const info = useMemo(() => new Map(lineage.nodes.map((n) => [n.key, n])), [lineage]);
  return (
    <g className="nodes">
      {layout.nodes.map((n) => {
        const h = health(n.key);
        const node = info.get(n.key);
        const name = n.key.split("/")[1] ?? n.key;
        const freshness = h.freshness?.state;
        const dim = matches && !matches.has(n.key) ? " dim" : "";
        const ring = freshness === "warn" || freshness === "fail" ? ` f-${freshness}-ring` : "";
        const cost = costs?.of(n.key);
        const colour = costs ? `cost-level-${costs.scale.level(cost)}` : `h-${h.headline}${ring}`;
        const costText = costs ? `, ${cost === undefined ? "no cost recorded" : fmtMoney(cost, costs.currency)}` : "";
        return (
          <g
            key={n.key}
            className={`node ${colour}${dim}`}
            data-key={n.key}
            data-health={h.headline}
            data-cost={cost}
            transform={`translate(${n.x - NODE_WIDTH / 2} ${n.y - NODE_HEIGHT / 2})`}
          >
            <title>{`${n.key} — ${HEADLINE_TEXT[h.headline]}${freshness ? `, ${freshness}` : ""}${costText}`}</title>
            <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={7} />
            <rect className="status-strip" width={7} height={NODE_HEIGHT} rx={3} />
            <text className="name" x={14} y={19}>
              {name.length > 24 ? name.slice(0, 23) + "…" : name}
            </text>
            <text className="sub" x={14} y={36}>
              {node?.kind}
              {node?.partitions ? ` · ${node.partitions.split(" ")[0]}` : ""}
              {costs ? ` · ${cost === undefined ? "no cost" : fmtMoney(cost, costs.currency)}` : ""}
              {!costs && freshness && freshness !== "fresh" ? ` · ${freshness === "fail" ? "overdue" : freshness}` : ""}
            </text>
          </g>
        );
      })}
    </g>
  );
});
