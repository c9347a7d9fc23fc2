// Minimap: an overview of a large graph in a small canvas, with the visible part framed.
// Click or drag in it to move the main view there. Drawn from node positions (no second cytoscape).
import { h } from "./dom.js";

/** Graphs with fewer nodes than this fit on screen: no minimap. */
export const MINIMAP_MIN_NODES = 50;
const W = 220;
const H = 140;
const PAD = 6;
const COLOURS = { DATASET: "#2563eb", JOB: "#ea580c" };

/**
 * Add a minimap to `container` (the graph's canvas element) for `cy`.
 * @returns {HTMLCanvasElement}
 */
export function minimap(cy, container) {
  const canvas = h("canvas.minimap", { width: W, height: H, role: "img", "aria-label": "Minimap", title: "Overview: click or drag to move the view" });
  container.append(canvas);
  let frame = null; // model -> minimap transform of the last drawing
  let base = null; // the nodes, drawn once per change of the graph (not per pan or zoom)

  /** Draw the nodes into an offscreen canvas: on layout, add, remove and status changes only. */
  function drawNodes() {
    const nodes = cy.nodes();
    canvas.hidden = nodes.length < MINIMAP_MIN_NODES;
    base = null;
    if (canvas.hidden) return;
    const bb = nodes.boundingBox({ includeLabels: false, includeOverlays: false });
    const scale = Math.min((W - 2 * PAD) / (bb.w || 1), (H - 2 * PAD) / (bb.h || 1));
    frame = { x1: bb.x1, y1: bb.y1, scale, ox: (W - bb.w * scale) / 2, oy: (H - bb.h * scale) / 2 };
    const px = (x) => frame.ox + (x - frame.x1) * scale;
    const py = (y) => frame.oy + (y - frame.y1) * scale;
    base = document.createElement("canvas");
    base.width = W;
    base.height = H;
    const ctx = base.getContext("2d");
    nodes.forEach((n) => {
      const p = n.position();
      const state = n.data("state");
      ctx.fillStyle = state === "FAILED" || n.data("checkFailed") ? "#dc2626" : n.data("pii") ? "#9333ea" : COLOURS[n.data("kind")] || "#64748b";
      const w = Math.max(2, n.width() * scale);
      const hgt = Math.max(2, n.height() * scale);
      if (n.isParent() || n.data("box")) {
        // column mode's dataset boxes: an outline around their columns
        ctx.strokeStyle = COLOURS.DATASET;
        ctx.lineWidth = 1;
        ctx.strokeRect(px(p.x) - w / 2, py(p.y) - hgt / 2, w, hgt);
      } else {
        ctx.fillRect(px(p.x) - w / 2, py(p.y) - hgt / 2, w, hgt);
      }
    });
  }

  /** The cached nodes plus the frame of what the main view shows: cheap, on every pan and zoom. */
  function draw() {
    if (canvas.hidden || !base) return;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, W, H);
    ctx.drawImage(base, 0, 0);
    const view = cy.extent();
    const px = (x) => frame.ox + (x - frame.x1) * frame.scale;
    const py = (y) => frame.oy + (y - frame.y1) * frame.scale;
    ctx.strokeStyle = "#0f172a";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(px(view.x1), py(view.y1), view.w * frame.scale, view.h * frame.scale);
  }

  let pending = false;
  let stale = true;
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (cy.destroyed()) return;
      if (stale) drawNodes();
      stale = false;
      draw();
    });
  };
  const changed = () => {
    stale = true;
    schedule();
  };

  /** Center the main view on the model point under a minimap pointer event. */
  function moveTo(event) {
    if (!frame) return;
    const rect = canvas.getBoundingClientRect();
    const x = frame.x1 + (event.clientX - rect.left - frame.ox) / frame.scale;
    const y = frame.y1 + (event.clientY - rect.top - frame.oy) / frame.scale;
    const zoom = cy.zoom();
    cy.pan({ x: cy.width() / 2 - x * zoom, y: cy.height() / 2 - y * zoom });
  }

  let dragging = false;
  canvas.addEventListener("pointerdown", (event) => {
    dragging = true;
    canvas.setPointerCapture(event.pointerId);
    moveTo(event);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (dragging) moveTo(event);
  });
  canvas.addEventListener("pointerup", () => {
    dragging = false;
  });

  cy.on("viewport resize", schedule);
  cy.on("add remove layoutstop data", changed);
  drawNodes();
  stale = false;
  draw();
  return canvas;
}
