// Audit view: who ran what, when, where, why, on which data (/api/v1/headwater/audit).
import * as api from "../api.js";
import { errorBox, fill, h, link, stateBadge, table, time } from "../dom.js";
import { navigate } from "../router.js";

const FILTERS = [
  ["dataset", "Dataset", "orders_source"],
  ["job", "Job", "customer_orders_etl"],
  ["actor", "Actor", "alice"],
];
const TIMES = [
  ["since", "Since"],
  ["until", "Until"],
];
// Event types of the audit trail as the run states the badges know.
const STATES = { COMPLETE: "COMPLETED", FAIL: "FAILED", ABORT: "ABORTED", START: "RUNNING" };

/** An ISO time as the value of a datetime-local input (local time), "" when unreadable. */
function localInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

function jobCell(ref) {
  const n = api.parseNodeId(`job:${ref}`);
  return n ? link(api.jobUrl(n.namespace, n.name), n.name) : ref;
}

/** "file:/warehouse/db/orders@123" -> a short name with the full reference as a tooltip. */
function datasetRefs(refs) {
  if (!refs || !refs.length) return h("span.muted", null, "—");
  return h(
    "ul.plain.io",
    null,
    refs.map((r) => {
      const [bare, version] = r.split("@");
      return h("li", { title: r }, api.shortName(bare), version ? h("span.muted", null, ` @${version.slice(0, 10)}`) : null);
    }),
  );
}

function sqlCell(sql) {
  if (!sql) return h("span.muted", null, "—");
  const first = sql.trim().split("\n")[0];
  return h("details", null, h("summary", null, first.length > 40 ? `${first.slice(0, 40)}…` : first), h("pre", null, sql));
}

function runsTable(runs) {
  return table(
    ["Run", "Job", "State", "Started", "Ended", "Actor", "Host", "Environment", "Purpose", "Engine", "SQL", "Inputs", "Outputs"],
    runs.map((r) => [
      link(api.runUrl(r.run_id), r.run_id.slice(0, 8)),
      jobCell(r.job),
      stateBadge(STATES[r.state] || r.state),
      time(r.started),
      time(r.ended),
      r.actor || "—",
      r.host || "—",
      r.environment || "—",
      r.purpose || "—",
      r.engine || "—",
      sqlCell(r.sql),
      datasetRefs(r.inputs),
      datasetRefs(r.outputs),
    ]),
    { class: "audit" },
  );
}

/** /audit?dataset=&job=&actor=&since=&until= */
export async function auditView({ query, root }) {
  document.title = "Audit · Headwater";
  const values = Object.fromEntries([...FILTERS, ...TIMES].map(([k]) => [k, query.get(k) || ""]));
  const inputs = {};
  for (const [key, label, placeholder] of FILTERS) {
    inputs[key] = h("input", { name: key, value: values[key], placeholder, "aria-label": label });
  }
  for (const [key, label] of TIMES) {
    inputs[key] = h("input", { name: key, type: "datetime-local", step: 1, value: localInput(values[key]), "aria-label": label });
  }
  const out = h("div.audit-out");
  const form = h(
    "form.audit-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        const q = {};
        for (const [key] of FILTERS) if (inputs[key].value.trim()) q[key] = inputs[key].value.trim();
        for (const [key] of TIMES) if (inputs[key].value) q[key] = new Date(inputs[key].value).toISOString();
        navigate(api.auditUrl(q));
      },
    },
    [...FILTERS, ...TIMES].map(([key, label]) => h("label", null, `${label} `, inputs[key])),
    h("button", { type: "submit" }, "Filter"),
    h("a", { href: "/audit", "data-link": true }, "clear"),
  );
  root.append(
    h("h1", null, "Audit trail"),
    h("p.muted", null, "Every run with who started it, where, why, with which engine and SQL, on which data versions (oldest first)."),
    form,
    out,
  );
  fill(out, h("p.muted.loading", null, "Loading runs…"));
  const filters = Object.fromEntries(Object.entries(values).filter(([, v]) => v));
  try {
    const answer = await api.audit(filters);
    fill(
      out,
      h("p.muted.count", null, `${answer.totalCount} run${answer.totalCount === 1 ? "" : "s"}`),
      answer.runs.length ? h("div.card.scroll", null, runsTable(answer.runs)) : h("p.muted", null, "No runs match these filters."),
    );
  } catch (err) {
    fill(out, errorBox(err, "Audit query failed"));
  }
}
