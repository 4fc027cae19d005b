// Runs the dagre layout off the page's thread.
import { computeLayout, type LayoutInput } from "./layout";

self.onmessage = (e: MessageEvent<LayoutInput>) => {
  try {
    self.postMessage({ layout: computeLayout(e.data) });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
