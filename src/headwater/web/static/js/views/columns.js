// Column mode: dataset boxes listing their columns; clicking a column highlights its upstream
// and downstream columns across the graph; hovering shows the transformations.
import * as api from "../api.js";
import { fill, h, link } from "../dom.js";
import { columnStyle } from "../graphstyle.js";

const ROW = 24; // column row height inside a dataset box
const HEADER = 6;

/** The dataset whose column lineage to draw: the node itself, a field's dataset, or a job's output. */
async function focusDataset(nodeId) {
  const n = api.parseNodeId(nodeId);
  if (!n) throw Object.assign(new Error(`${nodeId} is not a node id`), { status: 400 });
  if (n.kind === "dataset") return { dataset: nodeId, column: "" };
  if (n.kind === "datasetField") return { dataset: api.datasetId(n.namespace, n.name), column: nodeId };
  const job = await api.job(n.namespace, n.name);
  const ds = job.outputs[0] || job.inputs[0];
  if (!ds) throw Object.assign(new Error(`job ${n.name} reads and writes no datasets`), { status: 404 });
  return { dataset: api.datasetId(ds.namespace, ds.name), column: "" };
}

/** Fields, edges and dataset groups from /api/v1/column-lineage. */
export function columnModel(graph) {
  const fields = new Map();
  const edges = new Map();
  const addField = (ns, dataset, field, extra = {}) => {
    const id = api.fieldId(ns, dataset, field);
    if (!fields.has(id)) fields.set(id, { id, namespace: ns, dataset, field, ...extra });
    else Object.assign(fields.get(id), extra);
    return id;
  };
  for (const n of graph) {
    const d = n.data;
    addField(d.namespace, d.dataset, d.field, {
      type: d.fieldType,
      transformationType: d.transformationType,
      transformationDescription: d.transformationDescription,
    });
  }
  for (const n of graph) {
    const d = n.data;
    const target = api.fieldId(d.namespace, d.dataset, d.field);
    for (const f of d.inputFields || []) {
      const source = addField(f.namespace, f.dataset, f.field);
      const key = `${source}->${target}`;
      const transformations =
        f.transformations && f.transformations.length
          ? f.transformations
          : [{ type: f.transformationType || "DIRECT", description: f.transformationDescription || "" }];
      const edge = edges.get(key) || { id: key, source, target, transformations: [], jobs: [] };
      edge.transformations.push(...transformations);
      if (f.job) edge.jobs.push(f.job.name);
      edges.set(key, edge);
    }
  }
  for (const e of edges.values()) e.direct = e.transformations.some((t) => t.type === "DIRECT");
  const datasets = new Map();
  for (const f of fields.values()) {
    const key = api.datasetId(f.namespace, f.dataset);
    if (!datasets.has(key)) datasets.set(key, { id: key, namespace: f.namespace, name: f.dataset, columns: [] });
    datasets.get(key).columns.push(f.id);
  }
  for (const ds of datasets.values()) ds.columns.sort((a, b) => fields.get(a).field.localeCompare(fields.get(b).field));
  return { fields, edges, datasets };
}

/**
 * Keep what is upstream or downstream of the focus dataset's columns (direction "both" keeps all).
 * Indirect edges count, so a join key's inputs stay in an upstream graph.
 */
export function restrict(model, datasetNodeId, direction) {
  if (direction !== "upstream" && direction !== "downstream") return model;
  const start = (model.datasets.get(datasetNodeId) || { columns: [] }).columns;
  const keep = new Set(start);
  const queue = [...start];
  const next = new Map();
  for (const e of model.edges.values()) {
    const [from, to] = direction === "upstream" ? [e.target, e.source] : [e.source, e.target];
    if (!next.has(from)) next.set(from, []);
    next.get(from).push(to);
  }
  while (queue.length) {
    for (const to of next.get(queue.shift()) || []) {
      if (!keep.has(to)) {
        keep.add(to);
        queue.push(to);
      }
    }
  }
  const fields = new Map([...model.fields].filter(([id]) => keep.has(id)));
  const kept = new Map([...model.edges].filter(([, e]) => keep.has(e.source) && keep.has(e.target)));
  const datasets = new Map();
  for (const [key, ds] of model.datasets) {
    const columns = ds.columns.filter((c) => keep.has(c));
    if (columns.length) datasets.set(key, { ...ds, columns });
  }
  return { fields, edges: kept, datasets };
}

const SCHEMA_LOOKUPS = 40; // datasets whose full schema is fetched; beyond, lineage columns only

/**
 * List every column of each dataset in schema order, not only those with lineage: one dataset
 * read per box (in parallel). A failed read keeps the lineage columns, sorted by name.
 */
async function addSchemas(model) {
  const boxes = [...model.datasets.values()].slice(0, SCHEMA_LOOKUPS);
  const answers = await Promise.allSettled(boxes.map((ds) => api.dataset(ds.namespace, ds.name)));
  boxes.forEach((ds, i) => {
    if (answers[i].status !== "fulfilled") return;
    const order = [];
    for (const f of answers[i].value.fields || []) {
      const id = api.fieldId(ds.namespace, ds.name, f.name);
      if (!model.fields.has(id)) model.fields.set(id, { id, namespace: ds.namespace, dataset: ds.name, field: f.name, type: f.type, plain: true });
      else if (!model.fields.get(id).type) model.fields.get(id).type = f.type;
      order.push(id);
    }
    ds.columns = [...order, ...ds.columns.filter((c) => !order.includes(c))];
  });
}

/** Positions: dagre lays out the dataset boxes left to right; columns stack inside each box. */
function layout(model) {
  const g = new window.dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 160, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  const widths = new Map();
  for (const ds of model.datasets.values()) {
    const w = Math.max(150, ...ds.columns.map((c) => model.fields.get(c).field.length * 7 + 24));
    widths.set(ds.id, w);
    g.setNode(ds.id, { width: w + 16, height: HEADER + ds.columns.length * ROW + 16 });
  }
  const dsOf = (fieldId) => {
    const f = model.fields.get(fieldId);
    return api.datasetId(f.namespace, f.dataset);
  };
  for (const e of model.edges.values()) {
    const [a, b] = [dsOf(e.source), dsOf(e.target)];
    if (a !== b) g.setEdge(a, b);
  }
  window.dagre.layout(g);
  const positions = new Map();
  for (const ds of model.datasets.values()) {
    const box = g.node(ds.id);
    const top = box.y - box.height / 2 + 8 + HEADER;
    ds.columns.forEach((c, i) => positions.set(c, { x: box.x, y: top + i * ROW + ROW / 2 }));
  }
  return { positions, widths };
}

function describe(t) {
  const kind = [t.type, t.subtype].filter(Boolean).join("/");
  return `${kind}${t.masking ? " (masking)" : ""}${t.description ? `: ${t.description}` : ""}`;
}

/**
 * Draw column lineage into canvas; the side panel lists what a clicked column depends on.
 * @returns {Promise<{cy: any, count: number, summary: string}>}
 */
export async function columnGraph(s, canvas, panel, cytoscape, onSelect) {
  const focus = await focusDataset(s.node);
  const answer = await api.columnLineage(focus.dataset, s.depth, s.asOf);
  const model = restrict(columnModel(answer.graph), focus.dataset, s.direction);
  if (!model.fields.size) {
    throw Object.assign(new Error("no column lineage recorded for this dataset"), { status: 404 });
  }
  await addSchemas(model);
  const { positions, widths } = layout(model);
  const elements = [];
  for (const ds of model.datasets.values()) {
    elements.push({ group: "nodes", data: { id: ds.id, label: api.shortName(ds.name) }, classes: "dataset" });
  }
  for (const f of model.fields.values()) {
    const parent = api.datasetId(f.namespace, f.dataset);
    elements.push({
      group: "nodes",
      data: { id: f.id, label: f.field, parent, w: widths.get(parent) },
      classes: f.plain ? "column plain" : "column",
      position: positions.get(f.id),
    });
  }
  const shown = [...model.edges.values()].filter((e) => s.indirect || e.direct);
  for (const e of shown) {
    elements.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target }, classes: e.direct ? "direct" : "indirect" });
  }
  const cy = cytoscape({
    container: canvas,
    elements,
    style: columnStyle,
    layout: { name: "preset", fit: true, padding: 30 },
    autoungrabify: true,
    minZoom: 0.1,
    maxZoom: 3,
  });

  const tooltip = h("div.tooltip", { role: "tooltip", hidden: true });
  canvas.append(tooltip);
  const showTip = (evt, lines) => {
    fill(tooltip, ...lines.map((l) => h("div", null, l)));
    tooltip.hidden = false;
    // keep it inside the canvas: flip to the left/top of the pointer near the edges
    const { x, y } = evt.renderedPosition;
    const left = x + 14 + tooltip.offsetWidth > canvas.clientWidth ? x - 14 - tooltip.offsetWidth : x + 14;
    const top = y + 10 + tooltip.offsetHeight > canvas.clientHeight ? y - 10 - tooltip.offsetHeight : y + 10;
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${Math.max(0, top)}px`;
  };
  cy.on("mouseover", "edge", (evt) => {
    const e = model.edges.get(evt.target.id());
    showTip(evt, [...e.transformations.map(describe), e.jobs.length ? `job: ${[...new Set(e.jobs)].join(", ")}` : ""]);
  });
  cy.on("mouseover", "node.column", (evt) => {
    const f = model.fields.get(evt.target.id());
    showTip(evt, [
      `${api.shortName(f.dataset)}.${f.field}${f.type ? ` (${f.type})` : ""}`,
      f.transformationType
        ? `${f.transformationType}: ${f.transformationDescription || ""}`
        : f.plain
          ? "no column lineage recorded"
          : "source column",
    ]);
  });
  cy.on("mouseout", () => {
    tooltip.hidden = true;
  });

  const fieldLabel = (id) => {
    const f = model.fields.get(id);
    return `${api.shortName(f.dataset)}.${f.field}`;
  };

  function walk(start, upstream, hl) {
    const seen = new Set();
    const queue = [start];
    while (queue.length) {
      const node = cy.getElementById(queue.shift());
      const next = upstream ? node.incomers("edge") : node.outgoers("edge");
      next.forEach((edge) => {
        hl.add(edge.id());
        const other = upstream ? edge.source().id() : edge.target().id();
        if (!seen.has(other) && other !== start) {
          seen.add(other);
          queue.push(other);
        }
      });
    }
    return [...seen];
  }

  function columnList(role, ids, hl, upstream) {
    if (!ids.length) return h("p.muted", { "data-role": role }, "none");
    return h(
      "ul.columns",
      { "data-role": role },
      ids
        .sort((a, b) => fieldLabel(a).localeCompare(fieldLabel(b)))
        .map((id) => {
          const f = model.fields.get(id);
          const kinds = new Set();
          cy.getElementById(id)
            .connectedEdges()
            .forEach((edge) => {
              if (!hl.has(edge.id())) return;
              if (upstream ? edge.source().id() !== id : edge.target().id() !== id) return;
              for (const t of model.edges.get(edge.id()).transformations) kinds.add([t.type, t.subtype].filter(Boolean).join("/"));
            });
          return h(
            "li",
            { dataset: { dataset: api.shortName(f.dataset), field: f.field, nodeId: id }, title: id },
            h("code", null, fieldLabel(id)),
            kinds.size ? h("span.muted", null, ` ${[...kinds].join(", ")}`) : null,
          );
        }),
    );
  }

  function select(id) {
    cy.elements().removeClass("faded selected-col up down hl");
    if (!id || !model.fields.has(id)) {
      fill(panel, help());
      return;
    }
    const hl = new Set();
    const up = walk(id, true, hl);
    const down = walk(id, false, hl);
    cy.nodes(".column").addClass("faded");
    cy.edges().addClass("faded");
    cy.getElementById(id).removeClass("faded").addClass("selected-col");
    up.forEach((u) => cy.getElementById(u).removeClass("faded").addClass("up"));
    down.forEach((d) => cy.getElementById(d).removeClass("faded").addClass("down"));
    hl.forEach((e) => cy.getElementById(e).removeClass("faded").addClass("hl"));
    const f = model.fields.get(id);
    fill(panel,
      h("span.kind.kind-column", null, "column"),
      h("h2", { "data-role": "selected" }, fieldLabel(id)),
      f.type ? h("p.muted", null, f.type) : null,
      f.transformationType
        ? h("p", null, h("strong", null, f.transformationType), " ", h("code", null, f.transformationDescription || ""))
        : h("p.muted", null, f.plain ? "no column lineage recorded for it" : "a source column (no recorded inputs)"),
      h("h3", null, h("span.sw.sw-up"), `Upstream (${up.length})`),
      columnList("upstream", up, hl, true),
      h("h3", null, h("span.sw.sw-down"), `Downstream (${down.length})`),
      columnList("downstream", down, hl, false),
      h(
        "ul.plain",
        null,
        h("li", null, link(api.impactUrl(id), "Impact of changing it")),
        h("li", null, link(api.datasetUrl(f.namespace, f.dataset), "Dataset page")),
      ),
    );
  }

  function help() {
    return h(
      "div",
      null,
      h("h2", null, "Columns"),
      h("p", null, "Click a column to highlight the columns it comes from (amber) and feeds (green). Hover a column or an edge for its transformation."),
      h("p.muted", null, s.indirect ? "Dashed edges are indirect: joins, filters, group by." : "Indirect dependencies (joins, filters, group by) are hidden."),
      h("ul.plain", null, [...model.datasets.values()].map((ds) => h("li", null, link(api.datasetUrl(ds.namespace, ds.name), api.shortName(ds.name))))),
    );
  }

  cy.on("tap", "node.column", (evt) => {
    select(evt.target.id());
    onSelect(evt.target.id());
  });
  cy.on("tap", (evt) => {
    if (evt.target === cy) {
      select(null);
      onSelect("");
    }
  });

  let initial = s.column || focus.column;
  if (initial && !initial.includes(":")) {
    const n = api.parseNodeId(focus.dataset);
    initial = api.fieldId(n.namespace, n.name, initial);
  }
  select(initial);
  return {
    cy,
    count: model.fields.size,
    summary: `${model.fields.size} columns in ${model.datasets.size} datasets · ${shown.length} edges · greyed columns have no recorded lineage`,
  };
}
