// Diff mode: what changed in the lineage between two times (/api/v1/headwater/diff).
import * as api from "../api.js";
import { errorBox, fill, h, link } from "../dom.js";
import { navigate } from "../router.js";

const HOUR = 3600 * 1000;
const PRESETS = [
  ["an hour ago", HOUR],
  ["a day ago", 24 * HOUR],
  ["a week ago", 7 * 24 * HOUR],
];

/** An ISO time as the value of a datetime-local input (local time), "" when unreadable. */
function localInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

/** A unified diff with added, removed and hunk lines coloured (each line a text node in a span). */
export function unifiedDiff(text) {
  const lines = text.split("\n").map((line) => {
    let cls = "";
    if (line.startsWith("+++") || line.startsWith("---")) cls = "file";
    else if (line.startsWith("@@")) cls = "hunk";
    else if (line.startsWith("+")) cls = "add";
    else if (line.startsWith("-")) cls = "del";
    return h(cls ? `span.${cls}` : "span", null, line, "\n");
  });
  return h("pre.diff", null, lines);
}

function changeList(title, added, removed, what) {
  const none = !added.length && !removed.length;
  return h(
    "section.card",
    { class: `diff-${what}` },
    h("h2", null, `${title} (+${added.length} −${removed.length})`),
    none ? h("p.muted", null, "No change.") : null,
    added.length ? h("ul.plain.added", null, added.map((e) => h("li", null, e))) : null,
    removed.length ? h("ul.plain.removed", null, removed.map((e) => h("li", null, e))) : null,
  );
}

function jobLinkFor(ref) {
  const n = api.parseNodeId(`job:${ref}`);
  return n ? link(api.jobUrl(n.namespace, n.name), n.name) : ref;
}

function result(d) {
  const sql = Object.entries(d.sql_changes || {});
  const schema = Object.entries(d.schema_changes || {});
  const empty =
    !d.edges_added.length && !d.edges_removed.length && !d.columns_added.length && !d.columns_removed.length && !sql.length && !schema.length;
  return h(
    "div.diff-result",
    null,
    h("p.verdict", { class: empty ? "safe" : "unsafe", role: "status" }, empty ? "Nothing changed in the lineage." : "The lineage changed."),
    changeList("Edges", d.edges_added, d.edges_removed, "edges"),
    changeList("Column lineage", d.columns_added, d.columns_removed, "columns"),
    h(
      "section.card.diff-sql",
      null,
      h("h2", null, `SQL changes (${sql.length})`),
      sql.length ? sql.map(([job, text]) => h("div", null, h("h3", null, jobLinkFor(job)), unifiedDiff(text))) : h("p.muted", null, "No change."),
    ),
    h(
      "section.card.diff-schema",
      null,
      h("h2", null, `Schema changes (${schema.length})`),
      schema.length
        ? schema.map(([ds, c]) =>
            h(
              "div",
              null,
              h("h3", null, ds),
              c.added.length ? h("ul.plain.added", null, c.added.map((x) => h("li", null, x))) : null,
              c.removed.length ? h("ul.plain.removed", null, c.removed.map((x) => h("li", null, x))) : null,
            ),
          )
        : h("p.muted", null, "No change."),
    ),
  );
}

/** /diff?from=T1&to=T2 (to: now when empty) */
export async function diffView({ query, root }) {
  document.title = "Diff · Headwater";
  const from = query.get("from") || "";
  const to = query.get("to") || "";
  const fromInput = h("input", { name: "from", type: "datetime-local", step: 1, value: localInput(from), required: true, "aria-label": "From" });
  const toInput = h("input", { name: "to", type: "datetime-local", step: 1, value: localInput(to), "aria-label": "To" });
  const out = h("div.diff-out");
  const form = h(
    "form.audit-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        const q = { from: new Date(fromInput.value).toISOString() };
        if (toInput.value) q.to = new Date(toInput.value).toISOString();
        navigate(`/diff?${new URLSearchParams(q)}`);
      },
    },
    h("label", null, "From ", fromInput),
    h("label", null, "To ", toInput, h("span.muted", null, " (empty: now)")),
    h("button", { type: "submit" }, "Compare"),
    h(
      "span.presets",
      null,
      "Since ",
      PRESETS.map(([label, ms]) =>
        h("a", { href: `/diff?${new URLSearchParams({ from: new Date(Date.now() - ms).toISOString() })}`, "data-link": true }, label),
      ),
    ),
  );
  root.append(
    h("h1", null, "What changed in the lineage"),
    h("p.muted", null, "Edges and column lineage added or removed, SQL and schema changes between two times."),
    form,
    out,
  );
  if (!from) return;
  fill(out, h("p.muted.loading", null, "Comparing…"));
  try {
    fill(out, result(await api.diff(from, to)));
  } catch (err) {
    fill(out, errorBox(err, "Diff failed"));
  }
}
