// Run timeline: one row per run, a bar from its start to its end on a shared time axis,
// coloured by state, with its duration beside it; a bar is a link to the run page.
import * as api from "./api.js";
import { duration, h, time } from "./dom.js";

/** The start and end (ms) of a run; a run still going ends now. */
function span(run, now) {
  const start = Date.parse(run.startedAt || run.createdAt);
  const end = run.endedAt ? Date.parse(run.endedAt) : Math.max(now, start);
  return [start, end];
}

const pct = (x) => `${(Math.round(x * 100) / 100).toFixed(2)}%`;

/**
 * A timeline of runs (any order; drawn newest on top).
 * @param {Object[]} runs Marquez Run objects (id, state, startedAt, endedAt, durationMs)
 * @param {{label?: (run: Object) => string}} options a text before each bar (e.g. the job)
 * @returns {HTMLElement}
 */
export function runTimeline(runs, { label } = {}) {
  const now = Date.now();
  const drawn = runs
    .filter((r) => !Number.isNaN(Date.parse(r.startedAt || r.createdAt)))
    .map((r) => ({ run: r, at: span(r, now) }))
    .sort((a, b) => b.at[0] - a.at[0]);
  if (!drawn.length) return h("p.muted", null, "no runs to draw");
  const t0 = Math.min(...drawn.map((d) => d.at[0]));
  const t1 = Math.max(t0 + 1000, ...drawn.map((d) => d.at[1]));
  const total = t1 - t0;
  const rows = drawn.map(({ run, at: [start, end] }) => {
    const left = ((start - t0) / total) * 100;
    const width = ((end - start) / total) * 100;
    const state = (run.state || "none").toLowerCase();
    const took = run.endedAt ? duration(run.durationMs ?? end - start) : `${duration(end - start)} so far`;
    // the duration sits right of the bar, or left of it when the bar ends near the right edge
    const after = left + width < 78;
    const text = h(
      "span.tl-duration",
      { style: after ? `left: calc(${pct(left + width)} + 6px)` : `right: calc(${pct(100 - left)} + 6px)` },
      took,
    );
    return h(
      "div.tl-row",
      { dataset: { runId: run.id, state: run.state || "" } },
      label ? h("span.tl-label", { title: label(run) }, label(run)) : null,
      h(
        "div.tl-track",
        null,
        h(
          "a.tl-bar",
          {
            href: api.runUrl(run.id),
            "data-link": true,
            class: `state-${state}${run.endedAt ? "" : " open"}`,
            style: `left: ${pct(left)}; width: ${pct(width)}`,
            title: `${run.state || "?"} · started ${time(run.startedAt || run.createdAt)} · ${took}`,
            "aria-label": `Run ${run.id}: ${run.state || "?"}, ${took}`,
          },
        ),
        text,
      ),
    );
  });
  return h(
    "div.timeline",
    { class: label ? "labelled" : "" },
    rows,
    h(
      "div.tl-axis",
      null,
      label ? h("span.tl-label") : null,
      h("div.tl-track", null, h("span.tl-start", null, time(new Date(t0).toISOString())), h("span.tl-end", null, time(new Date(t1).toISOString()))),
    ),
  );
}
