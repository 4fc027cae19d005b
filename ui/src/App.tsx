import { useEffect } from "react";
import { api, ok } from "./api/client";
import { ErrorNote } from "./components/common";
import { HealthProvider, useHealth } from "./lib/health";
import { LiveProvider, useLiveConnected } from "./lib/live";
import { Link, match, useLocation } from "./lib/router";
import { useAsync } from "./lib/useAsync";
import { AlertsPage } from "./pages/AlertsPage";
import { AssetPage } from "./pages/AssetPage";
import { AutomationPage } from "./pages/AutomationPage";
import { CatalogPage } from "./pages/CatalogPage";
import { CostsPage } from "./pages/CostsPage";
import { GraphPage } from "./pages/GraphPage";
import { RunPage } from "./pages/RunPage";
import { RunsPage } from "./pages/RunsPage";

const NAV = [
  { to: "/", label: "Graph", active: (p: string) => p === "/" },
  { to: "/assets", label: "Catalog", active: (p: string) => p.startsWith("/assets") },
  { to: "/runs", label: "Runs", active: (p: string) => p.startsWith("/runs") },
  { to: "/automation", label: "Automation", active: (p: string) => p.startsWith("/automation") },
  { to: "/costs", label: "Costs", active: (p: string) => p.startsWith("/costs") },
  { to: "/alerts", label: "Alerts", active: (p: string) => p.startsWith("/alerts") },
];

function Page({ path }: { path: string }) {
  let m;
  if (path === "/") return <GraphPage />;
  if (path === "/assets") return <CatalogPage />;
  if ((m = match("/assets/:group/:name", path))) return <AssetPage key={`${m.group}/${m.name}`} assetKey={`${m.group}/${m.name}`} />;
  if (path === "/runs") return <RunsPage />;
  if ((m = match("/runs/:id", path))) return <RunPage key={m.id} runId={m.id!} />;
  if (path === "/automation") return <AutomationPage />;
  if (path === "/costs") return <CostsPage />;
  if (path === "/alerts") return <AlertsPage />;
  return (
    <div>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code>. <Link to="/">Back to the graph</Link>.
      </p>
    </div>
  );
}

function Header() {
  const { path } = useLocation();
  const connected = useLiveConnected();
  const health = useAsync(() => ok(api.GET("/api/v1/health")), []);
  // The server reloads the definitions when files change: their errors show within seconds.
  const reload = health.reload;
  useEffect(() => {
    const timer = setInterval(reload, 10_000);
    return () => clearInterval(timer);
  }, [reload]);
  const errors = health.data?.errors ?? [];
  return (
    <>
      <header className="top">
        <a className="skip" href="#main">
          Skip to content
        </a>
        <Link to="/" className="brand" aria-label="Strata home">
          Strata
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.active(path) ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className={`live-dot${connected ? " on" : ""}`} title={connected ? "Live: following the event log" : "Not connected to the event stream"}>
          <span className="visually-hidden">{connected ? "Live updates on" : "Live updates off"}</span>
        </span>
      </header>
      {errors.length > 0 ? (
        <div className="error-note" role="alert">
          <strong>The repository has declaration errors; the previous definitions stay in service.</strong>
          <ul>
            {errors.map((e, i) => (
              <li key={i}>
                <code>{e.location}</code> {e.message}
                {e.hint ? <span className="muted"> — {e.hint}</span> : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </>
  );
}

function HealthError() {
  const { error } = useHealth();
  return <ErrorNote error={error} what="Could not load the assets' health" />;
}

export function App() {
  const { path } = useLocation();
  useEffect(() => {
    document.body.dataset.page = path === "/" ? "graph" : (path.split("/")[1] ?? "");
  }, [path]);
  return (
    <LiveProvider>
      <HealthProvider>
        <Header />
        <main id="main" className={path === "/" ? "full" : undefined} tabIndex={-1}>
          <HealthError />
          <Page path={path} />
        </main>
      </HealthProvider>
    </LiveProvider>
  );
}
