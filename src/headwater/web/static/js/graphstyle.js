// Cytoscape styles: datasets are blue rounded boxes, jobs orange hexagons; run state colours jobs' borders.

const edgeBase = [
  {
    selector: "edge",
    style: {
      width: 1.5,
      "line-color": "#9aa5b1",
      "target-arrow-color": "#9aa5b1",
      "target-arrow-shape": "triangle",
      "arrow-scale": 0.8,
      "curve-style": "bezier",
    },
  },
];
const faded = [{ selector: ".faded", style: { opacity: 0.18 } }];

// Later rules win in cytoscape: the base edge style first, highlights after, fading last.
export const tableStyle = [
  ...edgeBase,
  {
    selector: "node",
    style: {
      label: "data(label)",
      "font-size": 13,
      "min-zoomed-font-size": 7, // no unreadable labels when zoomed out: faster on big graphs
      "font-family": "system-ui, sans-serif",
      "text-valign": "center",
      "text-halign": "center",
      width: "data(w)",
      height: 38,
      "border-width": 1.5,
    },
  },
  {
    selector: "node[kind = 'DATASET']",
    style: { shape: "round-rectangle", "background-color": "#dbeafe", "border-color": "#2563eb", color: "#1e3a8a" },
  },
  {
    selector: "node[kind = 'JOB']",
    style: { shape: "hexagon", "background-color": "#ffedd5", "border-color": "#ea580c", color: "#7c2d12" },
  },
  { selector: "node[state = 'FAILED']", style: { "border-color": "#dc2626", "border-width": 3, "background-color": "#fee2e2" } },
  { selector: "node[state = 'COMPLETED']", style: { "border-color": "#16a34a" } },
  { selector: "node[?pii]", style: { "background-color": "#f3e8ff", "border-color": "#9333ea", color: "#581c87" } },
  { selector: "node[?checkFailed]", style: { "border-color": "#dc2626", "border-width": 5, "border-style": "double" } },
  { selector: "node[more > 0]", style: { "border-style": "dashed", "border-width": 2.5 } },
  { selector: "node[?focus]", style: { "border-width": 4, "font-weight": "bold" } },
  { selector: "node:selected", style: { "overlay-color": "#2563eb", "overlay-opacity": 0.15 } },
  { selector: "node.path", style: { "border-color": "#7c3aed", "border-width": 4 } },
  { selector: "node.path-start", style: { "border-color": "#7c3aed", "border-width": 4, "border-style": "dashed" } },
  { selector: "edge.path", style: { width: 3, "line-color": "#7c3aed", "target-arrow-color": "#7c3aed" } },
  ...faded,
];

// Large graphs (hundreds to thousands of nodes): the same look with cheaper drawing. Straight
// edges skip cytoscape's bezier bundling, labels are not drawn when zoomed out far enough to be
// unreadable, and nothing reacts to the pointer but nodes.
export const tableStyleLarge = [
  ...tableStyle,
  { selector: "edge", style: { "curve-style": "straight", "arrow-scale": 0.6, events: "no" } },
  { selector: "node", style: { "min-zoomed-font-size": 10, "text-events": "no" } },
  ...faded,
];

export const columnStyle = [
  ...edgeBase,
  { selector: "edge", style: { "z-index-compare": "manual", "z-index": 1 } },
  {
    selector: "node.dataset",
    style: {
      shape: "round-rectangle",
      label: "data(label)",
      "text-valign": "top",
      "text-halign": "center",
      "text-margin-y": -4,
      "font-size": 13,
      "font-weight": "bold",
      "font-family": "system-ui, sans-serif",
      color: "#1e3a8a",
      "background-color": "#eff6ff",
      "border-color": "#2563eb",
      "border-width": 1.5,
      width: "data(w)",
      height: "data(h)",
      // boxes under edges under columns (boxes are plain nodes behind their columns)
      "z-index-compare": "manual",
      "z-index": 0,
    },
  },
  {
    selector: "node.column",
    style: {
      shape: "round-rectangle",
      label: "data(label)",
      width: "data(w)",
      height: 20,
      "font-size": 11,
      "font-family": "ui-monospace, monospace",
      "text-valign": "center",
      "text-halign": "center",
      "background-color": "#ffffff",
      "border-color": "#93c5fd",
      "border-width": 1,
      color: "#0f172a",
      "z-index-compare": "manual",
      "z-index": 2,
    },
  },
  { selector: "node.dataset[more > 0]", style: { "border-style": "dashed", "border-width": 2.5 } },
  { selector: "node.column.plain", style: { color: "#94a3b8", "border-color": "#e2e8f0", "border-style": "dashed" } },
  { selector: "node.column.selected-col", style: { "background-color": "#7c3aed", color: "#fff", "border-color": "#5b21b6", "border-width": 2 } },
  { selector: "node.column.up", style: { "background-color": "#fde68a", "border-color": "#d97706", "border-width": 2 } },
  { selector: "node.column.down", style: { "background-color": "#bbf7d0", "border-color": "#16a34a", "border-width": 2 } },
  { selector: "edge.indirect", style: { "line-style": "dashed", "line-color": "#cbd5e1", "target-arrow-color": "#cbd5e1" } },
  { selector: "edge.hl", style: { width: 2.5, "line-color": "#7c3aed", "target-arrow-color": "#7c3aed", opacity: 1 } },
  ...faded,
];

// Column mode past 1,000 drawn columns (LARGE_COLUMNS in views/columns.js): straight edges and no
// unreadable labels when zoomed out, as for large table graphs (edges still answer the pointer,
// for their tooltips).
export const columnStyleLarge = [
  ...columnStyle,
  { selector: "edge", style: { "curve-style": "straight", "arrow-scale": 0.6 } },
  { selector: "node", style: { "min-zoomed-font-size": 8, "text-events": "no" } },
  ...faded,
];

// The impact graph: the changed node purple, what breaks red, what is only affected amber;
// INDIRECT hops (joins, filters, grouping) dashed.
export const impactStyle = [
  ...edgeBase,
  {
    selector: "node",
    style: {
      shape: "round-rectangle",
      label: "data(label)",
      "text-wrap": "wrap",
      "font-size": 12,
      "font-family": "system-ui, sans-serif",
      "text-valign": "center",
      "text-halign": "center",
      width: "data(w)",
      height: 42,
      "background-color": "#fef3c7",
      "border-color": "#d97706",
      "border-width": 1.5,
      color: "#0f172a",
    },
  },
  { selector: "node[?breaks]", style: { "background-color": "#fee2e2", "border-color": "#dc2626", "border-width": 3, color: "#7f1d1d" } },
  { selector: "node[?origin]", style: { "background-color": "#7c3aed", "border-color": "#5b21b6", color: "#fff", "font-weight": "bold" } },
  { selector: "edge[kind = 'INDIRECT']", style: { "line-style": "dashed", "line-color": "#cbd5e1", "target-arrow-color": "#cbd5e1" } },
  { selector: "node:selected", style: { "overlay-color": "#2563eb", "overlay-opacity": 0.15 } },
];
