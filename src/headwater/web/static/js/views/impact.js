// Impact view: pick a dataset or column and a change; see what breaks downstream and who owns it.
import * as api from "../api.js";
import { errorBox, fill, h, link, table } from "../dom.js";
import { navigate } from "../router.js";

const CHANGES = [
  ["drop", "drop"],
  ["type", "change type"],
  ["rename", "rename"],
];

function jobCell(ref) {
  const [ns, ...rest] = ref.split(":");
  const name = rest.join(":");
  return link(api.jobUrl(ns, name), name);
}

/** The affected table as CSV (RFC 4180 quoting), for a download link. */
export function impactCsv(answer) {
  const quote = (v) => `"${String(v ?? "").replaceAll('"', '""')}"`;
  const header = ["namespace", "dataset", "field", "depth", "kind", "breaks", "jobs", "chain", "owners"];
  const ownersOf = (dataset) =>
    Object.entries(answer.owners || {})
      .filter(([, items]) => items.some((i) => i === `dataset ${api.shortName(dataset)}`))
      .map(([o]) => o)
      .join(" ");
  const rows = answer.affected.map((a) => [
    a.namespace,
    a.dataset,
    a.field || "",
    a.depth,
    a.kind,
    answer.breaking.some((b) => b.dataset === a.dataset && b.field === a.field && b.namespace === a.namespace),
    (a.jobs || []).join(" "),
    a.chain || "",
    ownersOf(a.dataset),
  ]);
  return [header, ...rows].map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
}

function csvLink(answer) {
  const href = URL.createObjectURL(new Blob([impactCsv(answer)], { type: "text/csv" }));
  const name = `impact-${answer.change}-${answer.node.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(-60)}.csv`;
  return h("a.csv", { href, download: name }, "Download CSV");
}

function result(answer) {
  const rows = answer.affected.map((a) => {
    const breaks = answer.breaking.some((b) => b.dataset === a.dataset && b.field === a.field && b.namespace === a.namespace);
    return [
      link(api.datasetUrl(a.namespace, a.dataset), api.shortName(a.dataset)),
      h("code", null, a.field || "(whole dataset)"),
      String(a.depth),
      a.kind,
      breaks ? h("span.badge.state-failed", null, "breaks") : h("span.badge", null, "affected"),
      (a.jobs || []).map((j) => h("div", null, jobCell(j))),
      h("span.chain", null, a.chain || ""),
    ];
  });
  const owners = Object.entries(answer.owners || {});
  return h(
    "div.impact-result",
    null,
    h(`p.verdict.${answer.safe ? "safe" : "unsafe"}`, { role: "status" }, answer.verdict),
    h(
      "section.card",
      null,
      h("h2", null, `Affected downstream (${answer.affected.length}) `, answer.affected.length ? csvLink(answer) : null),
      rows.length
        ? table(["Dataset", "Column", "Depth", "Kind", "", "Jobs", "Chain"], rows, { class: "affected" })
        : h("p.muted", null, "Nothing downstream depends on it."),
    ),
    h(
      "section.card",
      null,
      h("h2", null, "Owners to tell"),
      owners.length
        ? table(["Owner", "Owns"], owners.map(([o, items]) => [h("strong", null, o), items.join(", ")]), { class: "owners" })
        : h("p.muted", null, "No owners recorded."),
    ),
    answer.affected.length && !answer.node.startsWith("job:")
      ? h("p", null, link(api.lineageUrl(toDataset(answer.node), { mode: "column", column: answer.node }), "See it as a graph"))
      : null,
  );
}

/** A field node id's dataset node id (graphs start from datasets). */
function toDataset(nodeId) {
  const n = api.parseNodeId(nodeId);
  return n && n.kind === "datasetField" ? api.datasetId(n.namespace, n.name) : nodeId;
}

/** /impact?node=...&change=drop|type|rename&depth=N */
export async function impactView({ query, root }) {
  document.title = "Impact · Headwater";
  const node = query.get("node") || "";
  const change = query.get("change") || "drop";
  const input = h("input.node-input", {
    name: "node",
    value: node,
    required: true,
    placeholder: "products_source.cost, or a node id like dataset:NS:NAME",
    "aria-label": "Dataset or column",
  });
  const select = h(
    "select",
    { name: "change", "aria-label": "Change" },
    CHANGES.map(([v, label]) => h("option", { value: v, selected: v === change }, label)),
  );
  const out = h("div.impact-out");
  const form = h(
    "form.impact-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        navigate(`/impact?${new URLSearchParams({ node: input.value.trim(), change: select.value })}`);
      },
    },
    h("label", null, "Dataset or column ", input),
    h("label", null, "Change: ", select),
    h("button", { type: "submit" }, "Show impact"),
  );
  root.append(
    h("h1", null, "Impact of a change"),
    h("p.muted", null, "A column (table.column) or a dataset; the answer follows column lineage downstream."),
    form,
    out,
  );
  if (!node) return;
  fill(out, h("p.muted.loading", null, "Working out the impact…"));
  try {
    fill(out, result(await api.impact(node, change, query.get("depth"))));
  } catch (err) {
    fill(out, errorBox(err, "Impact query failed"));
  }
}
