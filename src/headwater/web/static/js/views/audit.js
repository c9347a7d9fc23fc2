// Audit view: who ran what, when, where, why, on which data (/api/v1/headwater/audit), whether
// the event log's hash chain verifies (/api/v1/headwater/audit/verify), and where PII flows
// (/api/v1/headwater/pii).
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

/** The hash chain's status: verified (how many events, how many pruned) or where it breaks. */
async function chainStatus(out) {
  fill(out, h("p.muted.loading", null, "Verifying the event log's hash chain…"));
  try {
    const c = await api.verifyChain();
    const pruned = c.pruned ? `, ${c.pruned} pruned by retention (linked by their stored hashes)` : "";
    fill(
      out,
      c.ok
        ? h("p.chain-status.ok", { role: "status" }, "✓ Hash chain verified: ", `${c.checked} event${c.checked === 1 ? "" : "s"}, none altered, missing or reordered${pruned}.`)
        : c.firstBadId == null
          ? h("p.chain-status.broken", { role: "alert" }, `✗ Hash chain broken: ${c.reason}. ${c.checked} events checked.`)
          : h("p.chain-status.broken", { role: "alert" }, "✗ Hash chain broken at event ", h("code", null, String(c.firstBadId)), `: ${c.reason}. ${c.checked} events checked.`),
    );
  } catch (err) {
    fill(out, errorBox(err, "Could not verify the hash chain"));
  }
}

/** Where PII flows: tagged columns and every column derived from them, with the path; masking stops. */
async function piiFlow(out) {
  fill(out, h("p.muted.loading", null, "Following PII…"));
  let answer;
  try {
    answer = await api.piiFlow();
  } catch (err) {
    fill(out, errorBox(err, "Could not follow PII"));
    return;
  }
  const columnLink = (c) =>
    link(api.lineageUrl(api.datasetId(c.namespace, c.dataset), { mode: "column", column: c.field }), `${api.shortName(c.dataset)}.${c.field}`);
  fill(
    out,
    answer.columns.length
      ? table(
          ["Column", "PII", "From", "Path"],
          answer.columns.map((c) => [
            columnLink(c),
            c.tagged ? h("span.badge.pii", null, "tagged") : h("span.badge", null, "derived"),
            h("code", null, c.origin),
            h("span.chain", null, c.path),
          ]),
          { class: "pii-flow" },
        )
      : h("p.muted", null, "No column is tagged pii, and no dataset declares PII in its tags facet."),
    answer.stops.length
      ? h("div.pii-stops", null, h("h3", null, "Stopped by masking"), h("ul.plain", null, answer.stops.map((x) => h("li", null, h("span.chain", null, x)))))
      : null,
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
  const chain = h("div.chain-out");
  const pii = h("div.pii-out");
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
    chain,
    form,
    out,
    h("section.card.pii-section", null, h("h2", null, "Where PII flows"), h("p.muted", null, "Columns tagged pii, and every column computed from them (DIRECT column lineage), across all datasets."), pii),
  );
  chainStatus(chain);
  piiFlow(pii);
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
