// Small DOM helpers: build elements without innerHTML (names and SQL are never parsed as HTML).
import { keyForm } from "./auth.js";

/**
 * Create an element.
 * @param {string} tag tag name, optionally with classes: "div.card.wide"
 * @param {Object|null} attrs attributes; `on*` functions become listeners, `dataset` an object
 * @param {...any} children strings, nodes, arrays, null/false (skipped)
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Replace el's children; like h(), skips null/false and flattens arrays (replaceChildren would print "null"). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An in-app link (handled by the router, no page reload). */
export function link(href, ...children) {
  return h("a", { href, "data-link": true }, ...children);
}

/** A table from column headers and rows (arrays of cells). */
export function table(headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("thead", null, h("tr", null, headers.map((c) => h("th", null, c)))),
    h("tbody", null, rows.map((r) => h("tr", null, r.map((c) => h("td", null, c))))),
  );
}

/** A run state badge (COMPLETED, FAILED, RUNNING, ...). */
export function stateBadge(state) {
  return h(`span.badge.state-${(state || "none").toLowerCase()}`, null, state || "no runs");
}

/** A readable error: the API's message and status, never a blank page. */
export function errorBox(err, title = "Something went wrong") {
  const status = err && err.status ? ` (HTTP ${err.status})` : "";
  return h(
    "div.error",
    { role: "alert" },
    h("strong", null, title + status),
    h("p", null, (err && err.message) || String(err)),
    err && err.status === 401 ? keyForm() : null,
  );
}

/** A collapsible JSON block, for facets. */
export function jsonBlock(summary, value, open = false) {
  return h("details.json", { open }, h("summary", null, summary), h("pre", null, JSON.stringify(value, null, 2)));
}

/** "1.2 s", "3 min 4 s" from milliseconds. */
export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A short local time from an ISO string. */
export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
