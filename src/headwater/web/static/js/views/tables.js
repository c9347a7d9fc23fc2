// Table mode: datasets and jobs from /api/v1/lineage, laid out left to right by dagre.
// Past a node budget only the nodes nearest the focus are drawn; a node with hidden neighbours
// shows "+N" and can be expanded in place, or everything drawn at once.
import * as api from "../api.js";
import { fill, h, link, stateBadge } from "../dom.js";
import { tableStyle, tableStyleLarge } from "../graphstyle.js";
import { layeredLayout } from "../layered.js";
import { navigate } from "../router.js";

export const NODE_BUDGET = 300;
/** Up to this many drawn nodes dagre lays the graph out; past it, layered.js (dagre's cost explodes). */
export const DAGRE_MAX = 500;
/** Past this many drawn nodes, cheaper styles (straight edges, labels hidden sooner when zoomed out). */
export const LARGE_GRAPH = 500;
const LAYOUT = { name: "dagre", rankDir: "LR", nodeSep: 24, rankSep: 50, fit: false };

/**
 * Lay out cytoscape element definitions in place: dagre for small graphs (cytoscape runs it),
 * layered.js positions (a preset layout) for large ones. Returns the layout options to run.
 */
function layOut(elements) {
  const nodes = elements.filter((e) => e.group === "nodes");
  if (nodes.length <= DAGRE_MAX) return LAYOUT;
  const widths = new Map(nodes.map((e) => [e.data.id, e.data.w]));
  const edges = elements.filter((e) => e.group === "edges").map((e) => [e.data.source, e.data.target]);
  const positions = layeredLayout([...widths.keys()], edges, { width: (id) => widths.get(id), nodeSep: 14, rankSep: 60 });
  for (const e of nodes) e.position = positions.get(e.data.id);
  return { name: "preset", fit: false };
}

/** The `budget` nodes nearest `focus`, walking edges both ways (breadth first). */
export function nearest(adjacency, focus, budget) {
  const kept = new Set([focus]);
  const queue = [focus];
  while (queue.length && kept.size < budget) {
    for (const next of adjacency.get(queue.shift()) || []) {
      if (kept.size >= budget) break;
      if (!kept.has(next)) {
        kept.add(next);
        queue.push(next);
      }
    }
  }
  return kept;
}

const isPiiTag = (t) => String(t).toLowerCase() === "pii";

/**
 * Whether a dataset holds PII: a `pii` tag on the dataset or one of its fields, or a `pii` entry
 * (value not "false") in its OpenLineage `tags` facet (what the reference pipeline's sources send).
 */
export function holdsPii(data) {
  if ((data.tags || []).some(isPiiTag)) return true;
  if ((data.fields || []).some((f) => (f.tags || []).some(isPiiTag))) return true;
  const facet = data.facets && data.facets.tags;
  return Boolean(
    facet &&
      (facet.tags || []).some((t) => isPiiTag(t.key || t.name || "") && String(t.value).toLowerCase() !== "false"),
  );
}

/** A data-quality check job (jobType QUALITY_CHECK): its runs carry `dataQualityAssertions` on their input. */
function isCheckJob(data) {
  const type = data.facets && data.facets.jobType;
  return Boolean(type && type.jobType === "QUALITY_CHECK");
}

/**
 * Datasets whose latest quality check failed: the inputs of check jobs whose latest run FAILED
 * (a check run fails when one of its assertions is false). Returns {dataset id: check job ids}.
 */
export function failingChecks(nodes) {
  const out = new Map();
  for (const n of nodes) {
    if (n.type !== "JOB" || !isCheckJob(n.data) || !n.data.latestRun || n.data.latestRun.state !== "FAILED") continue;
    for (const e of n.inEdges) {
      if (!out.has(e.origin)) out.set(e.origin, []);
      out.get(e.origin).push(n.id);
    }
  }
  return out;
}

/** Datasets upstream of `focus` (their other consumers, such as check jobs, are not in a directed graph). */
function upstreamDatasets(byId, focus) {
  const seen = new Set([focus]);
  const queue = [focus];
  const out = [];
  while (queue.length) {
    for (const e of byId.get(queue.shift()).inEdges) {
      if (seen.has(e.origin) || !byId.has(e.origin)) continue;
      seen.add(e.origin);
      queue.push(e.origin);
      if (byId.get(e.origin).type === "DATASET") out.push(e.origin);
    }
  }
  return out;
}

const CHECK_LOOKUPS = 30; // at most this many extra depth-1 requests for upstream datasets' checks

function labelWidth(label, px = 8, min = 70) {
  return Math.max(min, label.length * px + 28);
}

/**
 * Highlight the directed path between two nodes (either way round); fade everything else.
 * @returns {string[]} the path's node ids, upstream first; empty when none
 */
export function highlightPath(cy, a, b) {
  cy.elements().removeClass("path faded");
  for (const [from, to] of [
    [a, b],
    [b, a],
  ]) {
    const found = cy.elements().aStar({ root: cy.getElementById(from), goal: cy.getElementById(to), directed: true });
    if (found.found) {
      cy.elements().addClass("faded");
      found.path.removeClass("faded").addClass("path");
      return found.path.nodes().map((n) => n.id());
    }
  }
  return [];
}

/** Details of a tapped node in the side panel. */
function nodePanel(n, hidden, expand, collapse, lineageUrl, pathFromFocus, checks) {
  const d = n.data;
  const isJob = n.type === "JOB";
  const pii = !isJob && holdsPii(d);
  return h(
    "div",
    null,
    h(`span.kind.kind-${isJob ? "job" : "dataset"}`, null, isJob ? "job" : "dataset"),
    h("h2", null, api.shortName(d.name)),
    h("p.muted.full-name", null, `${d.namespace} · ${d.name}`),
    isJob ? h("p", null, "Latest run: ", stateBadge(d.latestRun && d.latestRun.state)) : null,
    d.description ? h("p", null, d.description) : null,
    pii || checks.length
      ? h(
          "p.status",
          null,
          pii ? h("span.badge.pii", null, "PII") : null,
          checks.map((c) => h("span", null, " ", h("span.badge.state-failed", null, "failing checks"), " ", link(api.nodeUrl(c), api.parseNodeId(c)?.name || c))),
        )
      : null,
    pathFromFocus,
    hidden
      ? h(
          "p",
          null,
          h("button.expand", { type: "button", onclick: expand }, `Expand: draw its ${hidden} hidden neighbour${hidden === 1 ? "" : "s"}`),
        )
      : null,
    collapse
      ? h("p", null, h("button.collapse", { type: "button", onclick: collapse }, "Collapse: hide the neighbours expanding it drew"))
      : null,
    h(
      "ul.plain",
      null,
      h("li", null, link(api.nodeUrl(n.id), isJob ? "Open job page" : "Open dataset page")),
      h("li", null, link(lineageUrl(n.id), "Center the graph here")),
      !isJob ? h("li", null, link(api.lineageUrl(n.id, { mode: "column" }), "Column lineage")) : null,
      !isJob ? h("li", null, link(api.impactUrl(n.id), "Impact of a change")) : null,
      isJob && d.latestRun ? h("li", null, link(api.runUrl(d.latestRun.id), "Latest run")) : null,
    ),
  );
}

/**
 * Draw the table-level graph.
 * @param {Object} s the view settings (node, depth, direction, all, pathFrom, pathTo)
 * @param {{canvas: HTMLElement, panel: HTMLElement, setStatus: Function, lineageUrl: Function,
 *   drawAllUrl: string, fit: Function, setPath: (from: string, to: string) => void}} ui
 */
export async function tableGraph(s, cytoscape, ui) {
  const asked = performance.now();
  const answer = await api.lineage(s.node, s.depth, s.direction, s.asOf);
  const fetched = performance.now();
  const nodes = answer.graph;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  if (!byId.has(s.node)) throw Object.assign(new Error(`${s.node} is not in the graph`), { status: 404 });
  const adjacency = new Map(nodes.map((n) => [n.id, []]));
  const edges = [];
  for (const n of nodes) {
    for (const e of n.outEdges) {
      if (!byId.has(e.destination)) continue;
      edges.push(e);
      adjacency.get(e.origin).push(e.destination);
      adjacency.get(e.destination).push(e.origin);
    }
  }
  const kept = s.all || nodes.length <= NODE_BUDGET ? new Set(byId.keys()) : nearest(adjacency, s.node, NODE_BUDGET);
  const hidden = (id) => adjacency.get(id).filter((x) => !kept.has(x)).length;
  const checks = failingChecks(nodes);

  function elements() {
    const out = [];
    for (const id of kept) {
      const n = byId.get(id);
      const full = api.shortName(n.data.name || n.id);
      const short = full.length > 34 ? `…${full.slice(-33)}` : full; // the tail tells jobs apart
      const more = hidden(id);
      const label = more ? `${short}  +${more}` : short;
      out.push({
        group: "nodes",
        data: {
          id,
          label,
          w: labelWidth(label),
          kind: n.type,
          state: n.type === "JOB" && n.data.latestRun ? n.data.latestRun.state : "",
          focus: id === s.node,
          more,
          pii: n.type === "DATASET" && holdsPii(n.data),
          checkFailed: checks.has(id),
        },
      });
    }
    for (const e of edges) {
      if (kept.has(e.origin) && kept.has(e.destination)) {
        out.push({ group: "edges", data: { id: `${e.origin}->${e.destination}`, source: e.origin, target: e.destination } });
      }
    }
    return out;
  }

  function report() {
    if (kept.size < nodes.length) {
      ui.setStatus(
        h(
          "p.warn.budget",
          null,
          `Showing ${kept.size} of ${nodes.length} nodes, those nearest ${api.shortName(byId.get(s.node).data.name)}; `,
          "nodes marked +N have hidden neighbours (click one to expand it). ",
          link(ui.drawAllUrl, `Draw all ${nodes.length}`),
        ),
      );
    } else {
      ui.setStatus(h("p.muted", null, `${nodes.length} nodes · click a node for details, double-click to center on it`));
    }
  }

  const big = kept.size > NODE_BUDGET;
  const started = performance.now();
  const initial = elements();
  const layout = layOut(initial);
  const cy = cytoscape({
    container: ui.canvas,
    elements: initial,
    style: kept.size > LARGE_GRAPH ? tableStyleLarge : tableStyle,
    layout,
    minZoom: 0.02,
    maxZoom: 3,
    // cytoscape's performance switches for big graphs: draw a snapshot while panning and zooming
    hideEdgesOnViewport: big,
    textureOnViewport: big,
    pixelRatio: big ? 1 : "auto",
  });

  // expanded node -> the nodes its expansion added (collapsing removes them again)
  const expanded = new Map();

  function redraw(id) {
    cy.elements().remove();
    const next = elements();
    const again = layOut(next);
    cy.style(kept.size > LARGE_GRAPH ? tableStyleLarge : tableStyle);
    cy.add(next);
    cy.layout(again).run();
    ui.fit();
    report();
    show(id);
  }

  function expand(id) {
    const added = adjacency.get(id).filter((next) => !kept.has(next));
    for (const next of added) kept.add(next);
    expanded.set(id, added);
    redraw(id);
  }

  /** Hide what expanding `id` drew, and what expanding those drew in turn; never the focus or `id`. */
  function collapse(id) {
    const drop = new Set();
    const walk = (x) => {
      for (const y of expanded.get(x) || []) {
        if (y === s.node || y === id || drop.has(y)) continue;
        drop.add(y);
        walk(y);
      }
      expanded.delete(x);
    };
    walk(id);
    for (const x of drop) kept.delete(x);
    redraw(id);
  }

  const label = (x) => api.shortName(byId.get(x).data.name);
  // a path between two nodes the user picks: "Start a path here" on one, then tap the other
  let pathStart = null;

  function markStart(id) {
    cy.nodes(".path-start").removeClass("path-start");
    pathStart = id;
    if (id) cy.getElementById(id).addClass("path-start");
  }

  /** Highlight the path between a and b, list it in `out`, and keep it in the URL. */
  function showPath(a, b, out) {
    const path = highlightPath(cy, a, b);
    ui.setPath(a, b);
    fill(
      out,
      path.length
        ? [
            h("p.muted.path-ends", null, `Path between ${label(a)} and ${label(b)}:`),
            h("ol.path-list", null, path.map((x) => h("li", { dataset: { node: x } }, label(x)))),
          ]
        : h("p.muted.no-path", null, `No directed path between ${label(a)} and ${label(b)}.`),
    );
    return path;
  }

  function clearPath() {
    cy.elements().removeClass("path faded");
    markStart(null);
    ui.setPath("", "");
  }

  function pathBlock(id, out) {
    const focusButton =
      id === s.node ? null : h("button.path", { type: "button", onclick: () => showPath(s.node, id, out) }, `Highlight the path to ${label(s.node)}`);
    const startButton =
      pathStart === id
        ? h("p.muted.path-hint", null, "Path start: now click the node at the other end.")
        : h("button.path-from", { type: "button", onclick: () => { markStart(id); show(id); } }, "Start a path here");
    const clear = pathStart || cy.elements(".path").length ? h("button.path-clear", { type: "button", onclick: () => { clearPath(); show(id); } }, "Clear the path") : null;
    return h("div.path-block", null, focusButton, " ", startButton, " ", clear, out);
  }

  function show(id) {
    const collapsible = (expanded.get(id) || []).some((x) => kept.has(x));
    const out = h("div.path-result");
    fill(
      ui.panel,
      nodePanel(byId.get(id), hidden(id), () => expand(id), collapsible ? () => collapse(id) : null, ui.lineageUrl, pathBlock(id, out), checks.get(id) || []),
    );
    return out;
  }

  // cytoscape reports two quick taps as a double tap even on two different nodes: center only
  // when both taps hit the same node
  let taps = [null, null];
  cy.on("tap", (evt) => {
    taps = [taps[1], evt.target === cy ? null : evt.target.id()];
  });
  cy.on("tap", "node", (evt) => {
    const id = evt.target.id();
    const out = show(id);
    if (pathStart && pathStart !== id) showPath(pathStart, id, out);
  });
  cy.on("tap", (evt) => {
    if (evt.target === cy) clearPath();
  });
  cy.on("dbltap", "node", (evt) => {
    if (taps[0] === evt.target.id()) navigate(ui.lineageUrl(evt.target.id()));
  });
  // a shared link with a path: draw it again
  if (s.pathFrom && s.pathTo && kept.has(s.pathFrom) && kept.has(s.pathTo)) {
    markStart(s.pathFrom);
    showPath(s.pathFrom, s.pathTo, show(s.pathTo));
  } else {
    show(s.node);
  }
  report();
  // Check jobs of upstream datasets are siblings of the focus's branch, outside a directed graph:
  // ask for each upstream dataset's consumers (depth 1 downstream) and mark failing checks when they answer.
  const lookups = upstreamDatasets(byId, s.node).filter((id) => kept.has(id) && !checks.has(id)).slice(0, CHECK_LOOKUPS);
  const settled = Promise.allSettled(
    lookups.map(async (id) => {
      const found = failingChecks((await api.lineage(id, 1, "downstream", s.asOf)).graph).get(id);
      if (!found || cy.destroyed()) return;
      checks.set(id, found);
      cy.getElementById(id).data("checkFailed", true);
    }),
  );
  // what drawing cost, for tests and the console (window.headwaterGraphTiming)
  const timing = { nodes: kept.size, layout: layout.name, fetchMs: Math.round(fetched - asked), drawMs: Math.round(performance.now() - started) };
  return { cy, count: nodes.length, settled, timing };
}
