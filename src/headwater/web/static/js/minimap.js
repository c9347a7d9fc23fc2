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

  function draw() {
    const nodes = cy.nodes();
    canvas.hidden = nodes.length < MINIMAP_MIN_NODES;
    if (canvas.hidden) return;
    const bb = nodes.boundingBox();
    const scale = Math.min((W - 2 * PAD) / (bb.w || 1), (H - 2 * PAD) / (bb.h || 1));
    frame = { x1: bb.x1, y1: bb.y1, scale, ox: (W - bb.w * scale) / 2, oy: (H - bb.h * scale) / 2 };
    const px = (x) => frame.ox + (x - frame.x1) * scale;
    const py = (y) => frame.oy + (y - frame.y1) * scale;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, W, H);
    nodes.forEach((n) => {
      const p = n.position();
      const state = n.data("state");
      ctx.fillStyle = state === "FAILED" || n.data("checkFailed") ? "#dc2626" : n.data("pii") ? "#9333ea" : COLOURS[n.data("kind")] || "#64748b";
      const w = Math.max(2, n.width() * scale);
      const hgt = Math.max(2, n.height() * scale);
      if (n.isParent()) {
        // column mode's dataset boxes: an outline around their columns
        ctx.strokeStyle = COLOURS.DATASET;
        ctx.lineWidth = 1;
        ctx.strokeRect(px(p.x) - w / 2, py(p.y) - hgt / 2, w, hgt);
      } else {
        ctx.fillRect(px(p.x) - w / 2, py(p.y) - hgt / 2, w, hgt);
      }
    });
    const view = cy.extent();
    ctx.strokeStyle = "#0f172a";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(px(view.x1), py(view.y1), view.w * scale, view.h * scale);
  }

  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (!cy.destroyed()) draw();
    });
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

  cy.on("viewport add remove layoutstop resize", schedule);
  draw();
  return canvas;
}
