// Impact view: pick a dataset or column and a change; see what breaks downstream and who owns it.
import * as api from "../api.js";
import { errorBox, fill, h, link, table } from "../dom.js";
import { impactStyle } from "../graphstyle.js";
import { navigate } from "../router.js";
import { fitGraph, graphLibrary } from "./lineage.js";

/** Past this many affected nodes the graph is not drawn (the table still lists them all). */
export const IMPACT_DRAW_LIMIT = 400;

const CHANGES = [
  ["drop", "drop"],
  ["type", "change type"],
  ["rename", "rename"],
];

function jobCell(ref) {
  const [ns, ...rest] = ref.split(":");
  const name = rest.join(":");
  return link(api.jobUrl(ns, name), name);
}

/** The affected table as CSV (RFC 4180 quoting), for a download link. */
export function impactCsv(answer) {
  const quote = (v) => `"${String(v ?? "").replaceAll('"', '""')}"`;
  const header = ["namespace", "dataset", "field", "depth", "kind", "breaks", "jobs", "chain", "owners"];
  const ownersOf = (dataset) =>
    Object.entries(answer.owners || {})
      .filter(([, items]) => items.some((i) => i === `dataset ${api.shortName(dataset)}`))
      .map(([o]) => o)
      .join(" ");
  const rows = answer.affected.map((a) => [
    a.namespace,
    a.dataset,
    a.field || "",
    a.depth,
    a.kind,
    answer.breaking.some((b) => b.dataset === a.dataset && b.field === a.field && b.namespace === a.namespace),
    (a.jobs || []).join(" "),
    a.chain || "",
    ownersOf(a.dataset),
  ]);
  return [header, ...rows].map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
}

function csvLink(answer) {
  const href = URL.createObjectURL(new Blob([impactCsv(answer)], { type: "text/csv" }));
  const name = `impact-${answer.change}-${answer.node.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(-60)}.csv`;
  return h("a.csv", { href, download: name }, "Download CSV");
}

const affectedId = (a) =>
  a.field === null || a.field === undefined ? api.datasetId(a.namespace, a.dataset) : api.fieldId(a.namespace, a.dataset, a.field);

/** "table\ncolumn" (or "table") of a dataset or field node id. */
function nodeLabel(id) {
  const n = api.parseNodeId(id);
  if (!n) return id;
  return n.kind === "datasetField" ? `${api.shortName(n.name)}\n${n.field}` : api.shortName(n.name);
}

/** Cytoscape elements of an impact answer: the changed node, what it affects, the hops between. */
export function impactElements(answer) {
  const breaking = new Set(answer.breaking.map(affectedId));
  const byId = new Map(answer.affected.map((a) => [affectedId(a), a]));
  const nodes = [answer.node, ...byId.keys()].map((id) => {
    const label = nodeLabel(id);
    const width = Math.max(90, Math.max(...label.split("\n").map((l) => l.length)) * 7.5 + 24);
    return { group: "nodes", data: { id, label, w: width, origin: id === answer.node, breaks: breaking.has(id) } };
  });
  const edges = (answer.edges || [])
    .filter((e) => (e.source === answer.node || byId.has(e.source)) && byId.has(e.target))
    .map((e) => ({ group: "edges", data: { id: `${e.source}->${e.target}@${e.job}`, source: e.source, target: e.target, kind: e.kind, job: e.job } }));
  return [...nodes, ...edges];
}

/**
 * The affected downstream as a graph (left to right from the changed node), breaking nodes red.
 * Tapping a node tells what it is and links to it. Returns a cleanup function (or null).
 */
function impactGraph(answer, holder) {
  if (!answer.affected.length) return null;
  if (answer.affected.length > IMPACT_DRAW_LIMIT) {
    fill(holder, h("p.muted", null, `${answer.affected.length} affected nodes: too many to draw; the table below lists them all.`));
    return null;
  }
  const cytoscape = graphLibrary();
  if (cytoscape instanceof Error) {
    fill(holder, errorBox(cytoscape, "Cannot draw the graph"));
    return null;
  }
  const canvas = h("div.graph-canvas.impact-canvas", { id: "impact-graph" });
  const info = h("p.impact-info.muted", { "aria-live": "polite" }, "Click a node for details.");
  fill(
    holder,
    h("p.legend.impact-legend", null, h("span.sw.sw-origin"), "changed ", h("span.sw.sw-breaks"), "breaks ", h("span.sw.sw-affected"), "affected, does not break ", h("span.sw.sw-indirect"), "indirect (join, filter, group by)"),
    canvas,
    info,
  );
  const cy = cytoscape({
    container: canvas,
    elements: impactElements(answer),
    style: impactStyle,
    layout: { name: "dagre", rankDir: "LR", nodeSep: 18, rankSep: 70, fit: false },
    minZoom: 0.05,
    maxZoom: 2.5,
  });
  fitGraph(cy);
  const byId = new Map(answer.affected.map((a) => [affectedId(a), a]));
  cy.on("tap", "node", (evt) => {
    const id = evt.target.id();
    const a = byId.get(id);
    const n = api.parseNodeId(id);
    const name = n.field ? `${api.shortName(n.name)}.${n.field}` : api.shortName(n.name);
    const page = n.field
      ? link(api.lineageUrl(api.datasetId(n.namespace, n.name), { mode: "column", column: n.field }), "column lineage")
      : link(api.datasetUrl(n.namespace, n.name), "dataset page");
    fill(
      info,
      h("strong", null, name),
      a ? ` · depth ${a.depth} · ${a.kind} · ${evt.target.data("breaks") ? "breaks" : "affected"} · via ${(a.jobs || []).map((j) => j.split(":").slice(1).join(":")).join(", ")} · ` : " · the changed node · ",
      page,
    );
  });
  window.headwaterImpactGraph = cy; // for tests and the browser console
  return () => {
    cy.destroy();
    window.headwaterImpactGraph = undefined;
  };
}

function result(answer, graphHolder) {
  const rows = answer.affected.map((a) => {
    const breaks = answer.breaking.some((b) => b.dataset === a.dataset && b.field === a.field && b.namespace === a.namespace);
    return [
      link(api.datasetUrl(a.namespace, a.dataset), api.shortName(a.dataset)),
      h("code", null, a.field || "(whole dataset)"),
      String(a.depth),
      a.kind,
      breaks ? h("span.badge.state-failed", null, "breaks") : h("span.badge", null, "affected"),
      (a.jobs || []).map((j) => h("div", null, jobCell(j))),
      h("span.chain", null, a.chain || ""),
    ];
  });
  const owners = Object.entries(answer.owners || {});
  return h(
    "div.impact-result",
    null,
    h(`p.verdict.${answer.safe ? "safe" : "unsafe"}`, { role: "status" }, answer.verdict),
    answer.affected.length ? h("section.card.impact-graph", null, h("h2", null, "As a graph"), graphHolder) : null,
    h(
      "section.card",
      null,
      h("h2", null, `Affected downstream (${answer.affected.length}) `, answer.affected.length ? csvLink(answer) : null),
      rows.length
        ? table(["Dataset", "Column", "Depth", "Kind", "", "Jobs", "Chain"], rows, { class: "affected" })
        : h("p.muted", null, "Nothing downstream depends on it."),
    ),
    h(
      "section.card",
      null,
      h("h2", null, "Owners to tell"),
      owners.length
        ? table(["Owner", "Owns"], owners.map(([o, items]) => [h("strong", null, o), items.join(", ")]), { class: "owners" })
        : h("p.muted", null, "No owners recorded."),
    ),
    answer.affected.length && !answer.node.startsWith("job:")
      ? h("p", null, link(api.lineageUrl(toDataset(answer.node), { mode: "column", column: answer.node }), "Open it in the column lineage graph"))
      : null,
  );
}

/** A field node id's dataset node id (graphs start from datasets). */
function toDataset(nodeId) {
  const n = api.parseNodeId(nodeId);
  return n && n.kind === "datasetField" ? api.datasetId(n.namespace, n.name) : nodeId;
}

/** /impact?node=...&change=drop|type|rename&depth=N */
export async function impactView({ query, root }) {
  document.title = "Impact · Headwater";
  const node = query.get("node") || "";
  const change = query.get("change") || "drop";
  const input = h("input.node-input", {
    name: "node",
    value: node,
    required: true,
    placeholder: "products_source.cost, or a node id like dataset:NS:NAME",
    "aria-label": "Dataset or column",
  });
  const select = h(
    "select",
    { name: "change", "aria-label": "Change" },
    CHANGES.map(([v, label]) => h("option", { value: v, selected: v === change }, label)),
  );
  const out = h("div.impact-out");
  const form = h(
    "form.impact-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        navigate(`/impact?${new URLSearchParams({ node: input.value.trim(), change: select.value })}`);
      },
    },
    h("label", null, "Dataset or column ", input),
    h("label", null, "Change: ", select),
    h("button", { type: "submit" }, "Show impact"),
  );
  root.append(
    h("h1", null, "Impact of a change"),
    h("p.muted", null, "A column (table.column) or a dataset; the answer follows column lineage downstream."),
    form,
    out,
  );
  if (!node) return undefined;
  fill(out, h("p.muted.loading", null, "Working out the impact…"));
  let answer;
  try {
    answer = await api.impact(node, change, query.get("depth"));
  } catch (err) {
    fill(out, errorBox(err, "Impact query failed"));
    return undefined;
  }
  const holder = h("div.impact-graph-holder");
  fill(out, result(answer, holder));
  return impactGraph(answer, holder); // drawn once the canvas is in the page (it needs a size)
}
