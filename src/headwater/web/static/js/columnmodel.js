// The column graph as data: fields, field-to-field edges and dataset boxes from
// /api/v1/column-lineage, which boxes to draw under a budget, and a column's lineage.
// Pure: no DOM and no cytoscape, so the view can draw any part of it while the side panel
// and the highlight still follow the whole graph.
import * as api from "./api.js";

/**
 * Fields, edges and dataset groups from /api/v1/column-lineage.
 * @returns {{fields: Map<string, Object>, edges: Map<string, Object>, datasets: Map<string, Object>}}
 */
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

/** The dataset node id of a field of the model. */
export function datasetOf(model, fieldId) {
  const f = model.fields.get(fieldId);
  return api.datasetId(f.namespace, f.dataset);
}

/**
 * Datasets linked by at least one column edge (direct or indirect), either way.
 * @returns {Map<string, string[]>} dataset id -> its neighbours, in the order first seen
 */
export function datasetLinks(model) {
  const links = new Map([...model.datasets.keys()].map((id) => [id, new Set()]));
  for (const e of model.edges.values()) {
    const a = datasetOf(model, e.source);
    const b = datasetOf(model, e.target);
    if (a === b) continue;
    links.get(a).add(b);
    links.get(b).add(a);
  }
  return new Map([...links].map(([id, next]) => [id, [...next]]));
}

/** Every dataset reachable from `focus`, nearest first (breadth first over `links`). */
export function byDistance(links, focus) {
  const seen = new Set([focus]);
  const order = [focus];
  for (let i = 0; i < order.length; i++) {
    for (const next of links.get(order[i]) || []) {
      if (!seen.has(next)) {
        seen.add(next);
        order.push(next);
      }
    }
  }
  return order;
}

/**
 * The dataset boxes to draw: breadth first from `focus` through the boxes kept, at most `boxes`
 * of them and `columns` columns in all (the focus always, whatever its size). A box too big for
 * what is left of the column budget is skipped and the walk goes on with smaller ones.
 * @param {Map<string, string[]>} links from datasetLinks
 * @param {(id: string) => number} size a box's column count
 * @returns {Set<string>}
 */
export function nearestBoxes(links, focus, size, { boxes, columns }) {
  const kept = new Set([focus]);
  let used = size(focus);
  const queue = [focus];
  const seen = new Set([focus]);
  while (queue.length && kept.size < boxes) {
    for (const next of links.get(queue.shift()) || []) {
      if (kept.size >= boxes) break;
      if (seen.has(next)) continue;
      seen.add(next);
      if (used + size(next) > columns) continue;
      kept.add(next);
      used += size(next);
      queue.push(next);
    }
  }
  return kept;
}

/**
 * Index the edges by the field they leave and the field they enter, keeping those `shown`.
 * @returns {{into: Map<string, Object[]>, from: Map<string, Object[]>}}
 */
export function edgeIndex(model, shown = () => true) {
  const into = new Map();
  const from = new Map();
  for (const e of model.edges.values()) {
    if (!shown(e)) continue;
    if (!into.has(e.target)) into.set(e.target, []);
    into.get(e.target).push(e);
    if (!from.has(e.source)) from.set(e.source, []);
    from.get(e.source).push(e);
  }
  return { into, from };
}

/**
 * A column's lineage one way: the fields it comes from (upstream) or feeds (downstream), at any
 * distance, and the edges walked, over the whole model whatever part of it is drawn.
 * @param {{into: Map, from: Map}} index from edgeIndex
 * @returns {{fields: string[], edges: Set<string>}}
 */
export function lineageOf(index, start, upstream) {
  const seen = new Set();
  const edges = new Set();
  const queue = [start];
  const step = upstream ? index.into : index.from;
  while (queue.length) {
    for (const e of step.get(queue.shift()) || []) {
      edges.add(e.id);
      const other = upstream ? e.source : e.target;
      if (other !== start && !seen.has(other)) {
        seen.add(other);
        queue.push(other);
      }
    }
  }
  return { fields: [...seen], edges };
}
