// Column mode: dataset boxes listing their columns; clicking a column highlights its upstream
// and downstream columns across the graph; hovering shows the transformations.
// Past a budget only the boxes nearest the focus are drawn: a box with hidden neighbours shows
// "+N" and can be expanded in place, a column's undrawn lineage drawn on demand, or everything
// drawn at once. The highlight and the side panel follow the whole column graph, drawn or not.
import * as api from "../api.js";
import { byDistance, columnModel, datasetLinks, datasetOf, edgeIndex, lineageOf, nearestBoxes, restrict } from "../columnmodel.js";
import { fill, h, link } from "../dom.js";
import { columnStyle, columnStyleLarge } from "../graphstyle.js";
import { layeredLayout } from "../layered.js";

/** Past this many dataset boxes, or this many columns in them, only the nearest are drawn. */
export const BOX_BUDGET = 40;
export const COLUMN_BUDGET = 1000;
/** Up to this many drawn boxes dagre lays them out; past it, layered.js (dagre's cost explodes). */
export const DAGRE_MAX_BOXES = 150;
/** Past this many drawn columns, cheaper drawing (straight edges, snapshots while panning). */
export const LARGE_COLUMNS = 1000;
const SCHEMA_LOOKUPS = 40; // at most this many dataset reads per drawing or expansion

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

/**
 * List every column of the given datasets in schema order, not only those with lineage: one
 * dataset read per box (in parallel), each dataset once (`read` remembers them). A failed read
 * keeps the lineage columns, sorted by name.
 */
async function addSchemas(model, ids, read) {
  const boxes = ids.filter((id) => !read.has(id)).slice(0, SCHEMA_LOOKUPS).map((id) => model.datasets.get(id));
  for (const ds of boxes) read.add(ds.id);
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
    const listed = new Set(order);
    ds.columns = [...order, ...ds.columns.filter((c) => !listed.has(c))];
  });
}

/**
 * Positions of the drawn boxes' columns: the boxes laid out left to right (dagre for a few,
 * layered.js past DAGRE_MAX_BOXES), the columns stacked inside each box.
 */
function layout(model, boxes) {
  const widths = new Map();
  const heights = new Map();
  for (const id of boxes) {
    const ds = model.datasets.get(id);
    widths.set(id, Math.max(150, ...ds.columns.map((c) => model.fields.get(c).field.length * 7 + 24)));
    heights.set(id, HEADER + ds.columns.length * ROW + 16);
  }
  const links = new Set();
  for (const e of model.edges.values()) {
    const [a, b] = [datasetOf(model, e.source), datasetOf(model, e.target)];
    if (a !== b && boxes.has(a) && boxes.has(b)) links.add(`${a}\n${b}`);
  }
  const pairs = [...links].map((k) => k.split("\n"));
  let centres;
  if (boxes.size <= DAGRE_MAX_BOXES) {
    const g = new window.dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 160, marginx: 20, marginy: 20 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const id of boxes) g.setNode(id, { width: widths.get(id) + 16, height: heights.get(id) });
    for (const [a, b] of pairs) g.setEdge(a, b);
    window.dagre.layout(g);
    centres = new Map([...boxes].map((id) => [id, g.node(id)]));
  } else {
    centres = layeredLayout([...boxes], pairs, {
      width: (id) => widths.get(id) + 16,
      height: (id) => heights.get(id),
      nodeSep: 40,
      rankSep: 120,
    });
  }
  const positions = new Map();
  for (const id of boxes) {
    const box = centres.get(id);
    const columns = model.datasets.get(id).columns;
    const top = box.y - heights.get(id) / 2 + 8 + HEADER;
    columns.forEach((c, i) => positions.set(c, { x: box.x, y: top + i * ROW + ROW / 2 }));
    positions.set(id, { x: box.x, y: top + (columns.length * ROW) / 2 });
  }
  return { positions, widths, name: boxes.size <= DAGRE_MAX_BOXES ? "dagre" : "layered" };
}

function describe(t) {
  const kind = [t.type, t.subtype].filter(Boolean).join("/");
  return `${kind}${t.masking ? " (masking)" : ""}${t.description ? `: ${t.description}` : ""}`;
}

const HIGHLIGHTS = ["faded", "selected-col", "up", "down", "hl"];
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Draw column lineage into the canvas; the side panel lists what a clicked column depends on.
 * @param {Object} s the view settings (node, depth, direction, asOf, indirect, column, all, expand)
 * @param {{canvas: HTMLElement, panel: HTMLElement, setStatus: Function, fit: Function,
 *   drawAllUrl: () => string, centerUrl: (node: string) => string,
 *   keep: (change: {column: string, expand: string[]}) => void}} ui `keep` records the selected
 *   column and the expansions in the URL
 * @returns {Promise<{cy: any, count: number, timing: Object}>}
 */
export async function columnGraph(s, cytoscape, ui) {
  const asked = performance.now();
  const focus = await focusDataset(s.node);
  const answer = await api.columnLineage(focus.dataset, s.depth, s.asOf);
  const fetched = performance.now();
  const model = restrict(columnModel(answer.graph), focus.dataset, s.direction);
  if (!model.fields.size || !model.datasets.has(focus.dataset)) {
    throw Object.assign(new Error("no column lineage recorded for this dataset"), { status: 404 });
  }
  const shownEdge = (e) => s.indirect || e.direct;
  const index = edgeIndex(model, shownEdge);
  const links = datasetLinks(model);
  const read = new Set(); // datasets whose schema was read
  const modelled = performance.now();

  let selected = s.column || focus.column;
  if (selected && !selected.includes(":")) {
    const n = api.parseNodeId(focus.dataset);
    selected = api.fieldId(n.namespace, n.name, selected);
  }
  // a shared link's column is always drawn, even when it is not among the nearest
  const pinned = model.fields.has(selected) ? datasetOf(model, selected) : null;
  const order = byDistance(links, focus.dataset);
  await addSchemas(model, [...(pinned ? [pinned] : []), ...order], read);

  const size = (id) => model.datasets.get(id).columns.length;
  const kept = s.all
    ? new Set(model.datasets.keys())
    : nearestBoxes(links, focus.dataset, size, { boxes: BOX_BUDGET, columns: COLUMN_BUDGET });
  if (pinned) kept.add(pinned);
  const hidden = (id) => links.get(id).filter((x) => !kept.has(x)).length;

  // expansions, in the order made: a dataset (its hidden neighbours) or a column (the datasets
  // of its undrawn lineage) -> the boxes it added; collapsing removes them again
  const expanded = new Map();
  const lineage = (id) => [...lineageOf(index, id, true).fields, ...lineageOf(index, id, false).fields];
  function expandKey(key) {
    const next = model.datasets.has(key) ? links.get(key) : lineage(key).map((f) => datasetOf(model, f));
    const added = [...new Set(next)].filter((x) => !kept.has(x));
    for (const x of added) kept.add(x);
    expanded.set(key, added);
    return added;
  }
  for (const key of s.expand || []) {
    const owner = model.datasets.has(key) ? key : model.fields.has(key) ? datasetOf(model, key) : null;
    if (owner && kept.has(owner) && !expanded.has(key)) expandKey(key);
  }
  // boxes drawn beyond the nearest read above: a shared link's expansions
  if (!s.all) await addSchemas(model, order.filter((id) => kept.has(id)), read);
  const schemasRead = performance.now();

  const drawnColumns = () => [...kept].reduce((n, id) => n + size(id), 0);
  function elements(positions, widths) {
    const out = [];
    for (const id of kept) {
      const ds = model.datasets.get(id);
      const more = hidden(id);
      const name = api.shortName(ds.name);
      // a box behind its columns, not a compound parent: cytoscape recomputes a compound's
      // bounds from its children on every change, which made a frame of 1,000 boxes 2-3x slower
      out.push({
        group: "nodes",
        data: { id, label: more ? `${name}  +${more}` : name, more, box: true, w: widths.get(id) + 18, h: ds.columns.length * ROW + 14 },
        classes: "dataset",
        position: positions.get(id),
      });
      for (const c of ds.columns) {
        const f = model.fields.get(c);
        out.push({
          group: "nodes",
          data: { id: c, label: f.field, dataset: id, w: widths.get(id) },
          classes: f.plain ? "column plain" : "column",
          position: positions.get(c),
        });
      }
    }
    for (const e of model.edges.values()) {
      if (!shownEdge(e) || !kept.has(datasetOf(model, e.source)) || !kept.has(datasetOf(model, e.target))) continue;
      out.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target }, classes: e.direct ? "direct" : "indirect" });
    }
    return out;
  }

  const started = performance.now();
  let placed = layout(model, kept);
  const laidOut = performance.now();
  const big = drawnColumns() > LARGE_COLUMNS;
  const cy = cytoscape({
    container: ui.canvas,
    elements: elements(placed.positions, placed.widths),
    style: big ? columnStyleLarge : columnStyle,
    layout: { name: "preset", fit: false },
    autoungrabify: true,
    minZoom: 0.02,
    maxZoom: 3,
    // cytoscape's performance switches for big graphs: draw a snapshot while panning and zooming
    hideEdgesOnViewport: big,
    textureOnViewport: big,
    pixelRatio: big ? 1 : "auto",
  });
  const timing = {
    boxes: kept.size,
    columns: drawnColumns(),
    layout: placed.name,
    startMs: Math.round(asked),
    fetchMs: Math.round(fetched - asked),
    modelMs: Math.round(modelled - fetched),
    schemaMs: Math.round(schemasRead - modelled),
    layoutMs: Math.round(laidOut - started),
    drawMs: Math.round(performance.now() - started),
  };

  const tooltip = h("div.tooltip", { role: "tooltip", hidden: true });
  ui.canvas.append(tooltip);
  const showTip = (evt, lines) => {
    fill(tooltip, ...lines.map((l) => h("div", null, l)));
    tooltip.hidden = false;
    // keep it inside the canvas: flip to the left/top of the pointer near the edges
    const { x, y } = evt.renderedPosition;
    const left = x + 14 + tooltip.offsetWidth > ui.canvas.clientWidth ? x - 14 - tooltip.offsetWidth : x + 14;
    const top = y + 10 + tooltip.offsetHeight > ui.canvas.clientHeight ? y - 10 - tooltip.offsetHeight : y + 10;
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
  const boxName = (id) => api.shortName(model.datasets.get(id).name);

  function report() {
    const total = model.datasets.size;
    if (kept.size < total) {
      ui.setStatus(
        h(
          "p.warn.budget",
          null,
          `Showing ${kept.size} of ${total} datasets (${drawnColumns()} of ${model.fields.size} columns), those nearest ${boxName(focus.dataset)}; `,
          "datasets marked +N have hidden neighbours (click one to expand it). ",
          link(ui.drawAllUrl(), `Draw all ${total}`),
        ),
      );
    } else {
      const edges = [...model.edges.values()].filter(shownEdge).length;
      ui.setStatus(h("p.muted", null, `${model.fields.size} columns in ${total} datasets · ${edges} edges · greyed columns have no recorded lineage`));
    }
  }

  /** The URL keeps the selected column and the expansions, so a shared link draws the same. */
  function remember() {
    ui.keep({ column: selected || "", expand: [...expanded.keys()] });
    report();
  }

  function redraw() {
    cy.elements().remove();
    placed = layout(model, kept);
    cy.style(drawnColumns() > LARGE_COLUMNS ? columnStyleLarge : columnStyle);
    cy.add(elements(placed.positions, placed.widths));
    ui.fit();
  }

  /** Draw what expanding `key` adds (reading the new boxes' schemas first), then show `then`. */
  async function expand(key, then) {
    const added = expandKey(key);
    await addSchemas(model, added, read);
    if (cy.destroyed()) return;
    redraw();
    remember();
    then();
  }

  /**
   * Hide what expanding `key` drew, and what expanding those drew in turn (their own and their
   * columns' expansions); never the focus or the box `key` belongs to.
   */
  function collapse(key, then) {
    const own = model.datasets.has(key) ? key : datasetOf(model, key);
    const drop = new Set();
    const walk = (k) => {
      for (const y of expanded.get(k) || []) {
        if (y === focus.dataset || y === own || drop.has(y)) continue;
        drop.add(y);
        for (const other of [...expanded.keys()]) {
          if (other === y || (model.fields.has(other) && datasetOf(model, other) === y)) walk(other);
        }
      }
      expanded.delete(k);
    };
    walk(key);
    for (const x of drop) kept.delete(x);
    if (selected && drop.has(datasetOf(model, selected))) selected = "";
    redraw();
    remember();
    then();
  }

  /** The side panel of a dataset box: its hidden neighbours, Expand and Collapse, links. */
  function showBox(id) {
    const ds = model.datasets.get(id);
    const more = hidden(id);
    const collapsible = (expanded.get(id) || []).some((x) => kept.has(x));
    fill(
      ui.panel,
      h("span.kind.kind-dataset", null, "dataset"),
      h("h2", null, boxName(id)),
      h("p.muted.full-name", null, `${ds.namespace} · ${ds.name}`),
      h("p.muted", null, `${plural(ds.columns.length, "column")} · linked to ${plural(links.get(id).length, "dataset")}`),
      more
        ? h("p", null, h("button.expand", { type: "button", onclick: () => expand(id, () => showBox(id)) }, `Expand: draw its ${more} hidden neighbour${more === 1 ? "" : "s"}`))
        : null,
      collapsible
        ? h("p", null, h("button.collapse", { type: "button", onclick: () => collapse(id, () => showBox(id)) }, "Collapse: hide the neighbours expanding it drew"))
        : null,
      h(
        "ul.plain",
        null,
        h("li", null, link(api.datasetUrl(ds.namespace, ds.name), "Open dataset page")),
        id === focus.dataset ? null : h("li", null, link(ui.centerUrl(id), "Center the column graph here")),
        h("li", null, link(api.lineageUrl(id), "Table lineage")),
        h("li", null, link(api.impactUrl(id), "Impact of a change")),
      ),
    );
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
          // the hops from this column towards the selected one
          for (const e of (upstream ? index.from : index.into).get(id) || []) {
            if (!hl.has(e.id)) continue;
            for (const t of e.transformations) kinds.add([t.type, t.subtype].filter(Boolean).join("/"));
          }
          const drawn = kept.has(datasetOf(model, id));
          return h(
            "li",
            { dataset: { dataset: api.shortName(f.dataset), field: f.field, nodeId: id, drawn: drawn ? "1" : "0" }, title: id, class: drawn ? "" : "not-drawn" },
            h("code", null, fieldLabel(id)),
            kinds.size ? h("span.muted", null, ` ${[...kinds].join(", ")}`) : null,
            drawn ? null : h("span.muted", null, " · not drawn"),
          );
        }),
    );
  }

  /** Undrawn lineage: say how much, and offer to draw it (or to hide what drawing it added). */
  function undrawnNote(id, fields) {
    const missing = new Set(fields.map((f) => datasetOf(model, f)).filter((d) => !kept.has(d)));
    const count = fields.filter((f) => missing.has(datasetOf(model, f))).length;
    const collapsible = (expanded.get(id) || []).some((x) => kept.has(x));
    if (!missing.size && !collapsible) return null;
    return h(
      "p.warn.not-drawn-note",
      null,
      missing.size ? `${plural(count, "column")} of its lineage ${count === 1 ? "is" : "are"} in ${plural(missing.size, "dataset")} not drawn. ` : null,
      missing.size
        ? h("button.expand-lineage", { type: "button", onclick: () => expand(id, () => select(id)) }, `Draw ${missing.size === 1 ? "it" : `these ${missing.size}`}`)
        : null,
      collapsible ? h("button.collapse-lineage", { type: "button", onclick: () => collapse(id, () => select(id)) }, "Hide the datasets drawing it added") : null,
    );
  }

  function select(id) {
    selected = id && model.fields.has(id) ? id : "";
    const upWalk = selected ? lineageOf(index, selected, true) : { fields: [], edges: new Set() };
    const downWalk = selected ? lineageOf(index, selected, false) : { fields: [], edges: new Set() };
    const hl = new Set([...upWalk.edges, ...downWalk.edges]);
    const up = upWalk.fields;
    const down = downWalk.fields;
    // highlight what is drawn of it (the panel lists all of it); only elements whose class
    // changes are touched, so going from one column to the next restyles what differs
    const want = new Map([[selected, "selected-col"]]);
    for (const u of up) want.set(u, "up");
    for (const d of down) want.set(d, "down");
    for (const e of hl) want.set(e, "hl");
    cy.batch(() => {
      cy.elements().forEach((el) => {
        if (el.hasClass("dataset")) return;
        const cls = want.get(el.id()) || (selected ? "faded" : "");
        for (const c of HIGHLIGHTS) if (c !== cls && el.hasClass(c)) el.removeClass(c);
        if (cls && !el.hasClass(cls)) el.addClass(cls);
      });
    });
    if (!selected) {
      fill(ui.panel, help());
      return;
    }
    const f = model.fields.get(selected);
    fill(
      ui.panel,
      h("span.kind.kind-column", null, "column"),
      h("h2", { "data-role": "selected" }, fieldLabel(selected)),
      f.type ? h("p.muted", null, f.type) : null,
      f.transformationType
        ? h("p", null, h("strong", null, f.transformationType), " ", h("code", null, f.transformationDescription || ""))
        : h("p.muted", null, f.plain ? "no column lineage recorded for it" : "a source column (no recorded inputs)"),
      undrawnNote(selected, [...up, ...down]),
      h("h3", null, h("span.sw.sw-up"), `Upstream (${up.length})`),
      columnList("upstream", up, hl, true),
      h("h3", null, h("span.sw.sw-down"), `Downstream (${down.length})`),
      columnList("downstream", down, hl, false),
      h(
        "ul.plain",
        null,
        h("li", null, link(api.impactUrl(selected), "Impact of changing it")),
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
      h("ul.plain", null, [...kept].map((id) => h("li", null, link(api.datasetUrl(model.datasets.get(id).namespace, model.datasets.get(id).name), boxName(id))))),
    );
  }

  cy.on("tap", "node.column", (evt) => {
    select(evt.target.id());
    remember();
  });
  cy.on("tap", "node.dataset", (evt) => showBox(evt.target.id()));
  cy.on("tap", (evt) => {
    if (evt.target === cy) {
      select(null);
      remember();
    }
  });

  select(selected);
  report();
  return { cy, count: model.fields.size, timing };
}
