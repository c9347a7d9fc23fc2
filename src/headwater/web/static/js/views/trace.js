// Root cause view: which source rows made these rows wrong? (/api/v1/headwater/trace)
import * as api from "../api.js";
import { errorBox, fill, h, link, table } from "../dom.js";
import { navigate } from "../router.js";


/** Sample rows of a hop as a small table inside a <details> (keys of the first row as headers). */
function sample(hop) {
  const rows = hop.sample || [];
  if (!rows.length) return h("span.muted", null, "—");
  const headers = Object.keys(rows[0]);
  return h(
    "details.sample",
    null,
    h("summary", null, `${rows.length} sample row${rows.length === 1 ? "" : "s"}`),
    table(
      headers,
      rows.map((r) => headers.map((k) => (r[k] === null || r[k] === undefined ? h("span.muted", null, "null") : String(r[k])))),
      { class: "sample-rows" },
    ),
  );
}

/** A link that finds a job or dataset by name (the trace names them without their namespace). */
function findLink(name, filter) {
  if (!name) return h("span.muted", null, "—");
  return link(`/search?${new URLSearchParams({ q: name, filter })}`, name);
}

function list(items, empty, cls = "") {
  if (!items || !items.length) return h("p.muted", null, empty);
  return h("ul.plain", { class: cls }, items.map((i) => h("li", null, i)));
}

function result(answer) {
  const owners = Object.entries(answer.ownersToWarn || {});
  return h(
    "div.trace-result",
    null,
    h(
      "p.verdict",
      { class: answer.badRows ? "unsafe" : "safe", role: "status" },
      `${answer.badRows} row${answer.badRows === 1 ? "" : "s"} of ${api.shortName(answer.dataset)} match ${answer.where}`,
    ),
    answer.rootCauses && answer.rootCauses.length
      ? h("section.card.root-causes", null, h("h2", null, "Root cause"), answer.rootCauses.map((s) => h("p.root-cause", null, s)))
      : h("p.muted", null, "No root cause found at the sources (the conditions tried are listed in docs/analysis.md)."),
    h(
      "section.card",
      null,
      h("h2", null, "Hops upstream"),
      (answer.hops || []).length
        ? table(
            ["Dataset", "Rows", "Of", "Via job", "Note", "Sample"],
            answer.hops.map((hop) => [
              findLink(api.shortName(hop.dataset), "DATASET"),
              String(hop.rows),
              String(hop.total),
              findLink(hop.job, "JOB"),
              hop.note ? h("span.warn", null, hop.note) : "",
              sample(hop),
            ]),
            { class: "hops" },
          )
        : h("p.muted", null, "No upstream rows."),
    ),
    h(
      "div.grid",
      null,
      h("section.card", null, h("h2", null, "Failing checks upstream"), list(answer.failingChecks, "No failing checks.", "checks")),
      h("section.card", null, h("h2", null, "Blast radius downstream"), list(answer.blastRadius, "Nothing downstream.", "blast")),
      h(
        "section.card",
        null,
        h("h2", null, "Owners to warn"),
        owners.length
          ? table(["Owner", "Owns"], owners.map(([o, items]) => [h("strong", null, o), items.join(", ")]), { class: "owners" })
          : h("p.muted", null, "No owners recorded."),
      ),
    ),
  );
}

/** /trace?dataset=NAME_OR_ID&where=CONDITION[&asOf=ISO_TIME] */
export async function traceView({ query, root }) {
  document.title = "Root cause · Headwater";
  const dataset = query.get("dataset") || "";
  const where = query.get("where") || "";
  const asOf = query.get("asOf") || "";
  const dsInput = h("input.node-input", {
    name: "dataset",
    value: dataset,
    required: true,
    placeholder: "customer_revenue_summary, or dataset:NS:NAME",
    "aria-label": "Dataset",
  });
  const whereInput = h("input.where-input", {
    name: "where",
    value: where,
    required: true,
    placeholder: "total_profit < 0",
    "aria-label": "Condition",
  });
  const asOfInput = h("input.asof-input", {
    name: "asOf",
    value: asOf,
    placeholder: "now, or 2025-01-17T12:00:00Z",
    "aria-label": "As of",
  });
  const out = h("div.trace-out");
  const form = h(
    "form.impact-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        navigate(api.traceUrl(dsInput.value.trim(), whereInput.value.trim(), asOfInput.value.trim()));
      },
    },
    h("label", null, "Dataset ", dsInput),
    h("label", null, "Bad rows where ", whereInput),
    h("label", null, "As of ", asOfInput),
    h("button", { type: "submit" }, "Trace"),
  );
  root.append(
    h("h1", null, "Root cause of bad rows"),
    h("p.muted", null, "Pick the rows that are wrong with a SQL condition; the trace follows them upstream, run by run, to the source rows."),
    form,
    out,
  );
  if (!dataset || !where) return;
  fill(out, h("p.muted.loading", null, "Tracing the rows upstream…"));
  try {
    fill(out, result(await api.trace(dataset, where, asOf)));
  } catch (err) {
    const title = err.status === 409 ? "The server cannot read data" : err.status === 400 ? "The trace cannot start" : "Trace failed";
    fill(out, errorBox(err, title));
  }
}
