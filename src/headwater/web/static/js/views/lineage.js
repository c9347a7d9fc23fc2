// Lineage graph: a left-to-right DAG of datasets and jobs (table mode) or of columns (column mode).
import * as api from "../api.js";
import { errorBox, fill, h, link } from "../dom.js";
import { minimap } from "../minimap.js";
import { navigate } from "../router.js";
import { columnGraph } from "./columns.js";
import { notFoundBlock } from "./notfound.js";
import { tableGraph } from "./tables.js";

let registered = false;

/** Cytoscape with the dagre layout, or an Error when the vendored scripts are missing. */
export function graphLibrary() {
  if (!window.cytoscape || !window.cytoscapeDagre || !window.dagre) {
    return new Error("The graph libraries are missing from /static/vendor: run `make install` (npm ci) and restart.");
  }
  if (!registered) {
    window.cytoscape.use(window.cytoscapeDagre);
    registered = true;
  }
  return window.cytoscape;
}

/** Past this many nodes, fit to the nodes' boxes only (measuring every label and edge costs a second). */
const CHEAP_FIT = 500;

/** Fit the graph, but do not blow a small graph up beyond 1.2x. */
export function fitGraph(cy, padding = 30) {
  if (cy.nodes().length <= CHEAP_FIT) {
    cy.fit(undefined, padding);
    if (cy.zoom() > 1.2) {
      cy.zoom(1.2);
      cy.center();
    }
    return;
  }
  const bb = cy.nodes().boundingBox({ includeLabels: false, includeOverlays: false });
  const zoom = Math.max(cy.minZoom(), Math.min(1.2, (cy.width() - 2 * padding) / (bb.w || 1), (cy.height() - 2 * padding) / (bb.h || 1)));
  cy.viewport({ zoom, pan: { x: cy.width() / 2 - zoom * (bb.x1 + bb.w / 2), y: cy.height() / 2 - zoom * (bb.y1 + bb.h / 2) } });
}

/** The view's settings from the URL, with defaults. */
function settings(query) {
  const depth = Math.max(1, Math.min(20, Number.parseInt(query.get("depth") || "3", 10) || 3));
  return {
    node: query.get("node") || "",
    depth,
    direction: ["upstream", "downstream"].includes(query.get("direction")) ? query.get("direction") : "both",
    mode: query.get("mode") === "column" ? "column" : "table",
    column: query.get("column") || "",
    indirect: query.get("indirect") === "1",
    all: query.get("all") === "1",
    asOf: query.get("asOf") || "",
    pathFrom: query.get("pathFrom") || "",
    pathTo: query.get("pathTo") || "",
    // column mode: the boxes and columns expanded, in order (replayed to draw the same)
    expand: query.getAll("expand").filter(Boolean),
  };
}

function urlFor(s) {
  const q = new URLSearchParams({ node: s.node, depth: s.depth, direction: s.direction, mode: s.mode });
  if (s.mode === "column" && s.column) q.set("column", s.column);
  if (s.mode === "column" && s.indirect) q.set("indirect", "1");
  if (s.all) q.set("all", "1");
  if (s.mode === "column" && !s.all) for (const key of s.expand || []) q.append("expand", key);
  if (s.asOf) q.set("asOf", s.asOf);
  if (s.mode === "table" && s.pathFrom && s.pathTo) {
    q.set("pathFrom", s.pathFrom);
    q.set("pathTo", s.pathTo);
  }
  return `/lineage?${q}`;
}

/** "As of" a time: the graph as it was then (each job's version at that time). Empty = now. */
function timeTravel(asOf, change) {
  const local = (iso) => {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  };
  const input = h("input", {
    type: "datetime-local",
    step: 1,
    value: asOf ? local(asOf) : "",
    "aria-label": "As of",
    onchange: (e) => change(e.target.value ? new Date(e.target.value).toISOString() : ""),
  });
  return h(
    "span.asof",
    { class: asOf ? "on" : "" },
    "As of ",
    input,
    asOf ? h("button", { type: "button", onclick: () => change(""), "aria-label": "Back to now" }, "now") : null,
  );
}

function toolbar(s, fit) {
  // a new graph: what was expanded in the old one does not carry over
  const go = (change) => navigate(urlFor({ ...s, pathFrom: "", pathTo: "", expand: [], ...change }));
  return h(
    "div.toolbar",
    { role: "toolbar" },
    h(
      "span.segmented",
      null,
      h("button", { type: "button", class: s.mode === "table" ? "on" : "", onclick: () => go({ mode: "table", column: "", all: false }), "data-mode": "table" }, "Tables"),
      h("button", { type: "button", class: s.mode === "column" ? "on" : "", onclick: () => go({ mode: "column", all: false }), "data-mode": "column" }, "Columns"),
    ),
    h(
      "span.depth",
      null,
      "Depth ",
      h("button", { type: "button", "aria-label": "Less depth", disabled: s.depth <= 1, onclick: () => go({ depth: s.depth - 1 }) }, "−"),
      h("output", { "aria-label": "Depth" }, String(s.depth)),
      h("button", { type: "button", "aria-label": "More depth", disabled: s.depth >= 20, onclick: () => go({ depth: s.depth + 1 }) }, "+"),
    ),
    h(
      "select",
      { "aria-label": "Direction", onchange: (e) => go({ direction: e.target.value }) },
      ["both", "upstream", "downstream"].map((d) => h("option", { value: d, selected: d === s.direction }, d)),
    ),
    h("button", { type: "button", onclick: () => fit() }, "Fit"),
    timeTravel(s.asOf, (asOf) => go({ asOf })),
    s.mode === "column"
      ? h(
          "label.check",
          null,
          h("input", { type: "checkbox", checked: s.indirect, onchange: (e) => go({ indirect: e.target.checked }) }),
          " show indirect (join, filter, group by)",
        )
      : null,
    h("span.legend", null, h("span.sw.sw-dataset"), "dataset ", h("span.sw.sw-job"), "job ", h("span.sw.sw-failed"), "failed run",
      s.mode === "table" ? [" ", h("span.sw.sw-pii"), "PII ", h("span.sw.sw-check"), "failing checks"] : null,
    ),
  );
}

/** /lineage?node=...&depth=3&direction=both&mode=table|column&column=... */
export async function lineageView({ query, root }) {
  const s = settings(query);
  document.title = "Lineage · Headwater";
  if (!s.node) {
    root.append(notFoundBlock("Pick a dataset or job to draw its lineage."));
    return undefined;
  }
  const parsed = api.parseNodeId(s.node);
  let cy = null;
  const fit = () => cy && fitGraph(cy);
  const canvas = h("div.graph-canvas", { id: "graph" });
  const panel = h("aside.graph-panel", { "aria-live": "polite" });
  const status = h("div.graph-status");
  const title = parsed
    ? h(
        "h1.graph-title",
        null,
        `${s.mode === "column" ? "Column lineage" : "Lineage"} of `,
        link(api.nodeUrl(s.node), api.shortName(parsed.name)),
        parsed.field ? `.${parsed.field}` : "",
        s.asOf ? h("span.muted.asof-title", null, ` as of ${new Date(s.asOf).toLocaleString()}`) : "",
      )
    : h("h1.graph-title", null, "Lineage");
  // what the column view changes in place (the selected column, expansions), for its URL and toolbar
  const current = { ...s };
  root.append(title, toolbar(current, fit), status, h("div.graph-wrap", null, canvas, panel));

  const cytoscape = graphLibrary();
  if (cytoscape instanceof Error) {
    fill(status, errorBox(cytoscape, "Cannot draw graphs"));
    return undefined;
  }
  fill(status, h("p.muted.loading", null, "Loading the graph…"));
  try {
    const drawn =
      s.mode === "column"
        ? await columnGraph(s, cytoscape, {
            canvas,
            panel,
            fit,
            setStatus: (...children) => fill(status, ...children),
            keep: (change) => {
              Object.assign(current, change);
              history.replaceState(null, "", urlFor(current));
            },
            drawAllUrl: () => urlFor({ ...current, all: true, expand: [] }),
            centerUrl: (node) => urlFor({ ...s, node, column: "", all: false, expand: [] }),
          })
        : await tableGraph(s, cytoscape, {
            canvas,
            panel,
            fit,
            setStatus: (...children) => fill(status, ...children),
            lineageUrl: (node) => urlFor({ ...s, node, all: false, pathFrom: "", pathTo: "" }),
            setPath: (pathFrom, pathTo) => history.replaceState(null, "", urlFor({ ...s, pathFrom, pathTo })),
            drawAllUrl: urlFor({ ...s, all: true }),
          });
    cy = drawn.cy;
    fitGraph(cy);
    minimap(cy, canvas);
    window.headwaterGraph = cy; // for tests and the browser console
    // ms since the page started loading, once the graph is built, fitted and its minimap drawn
    if (drawn.timing) drawn.timing.readyMs = Math.round(performance.now());
    window.headwaterGraphTiming = drawn.timing;
  } catch (err) {
    canvas.remove();
    fill(status,
      err.status === 404 ? notFoundBlock(`No lineage for ${s.node}: ${err.message}`, parsed ? api.shortName(parsed.name) : "") : errorBox(err, "Could not load the lineage"),
    );
  }
  return () => {
    if (cy) cy.destroy();
    window.headwaterGraph = undefined;
  };
}
