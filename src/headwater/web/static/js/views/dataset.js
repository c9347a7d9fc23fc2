// Dataset page: schema, table properties, versions with row counts and sizes, producing and
// consuming jobs, quality-check history, facets.
import * as api from "../api.js";
import { errorBox, fill, h, jsonBlock, link, stateBadge, table, time } from "../dom.js";
import { failure, jobLink, loading, pageHeader } from "./common.js";

/** "6.4 kB" from bytes. */
export function bytes(n) {
  if (typeof n !== "number") return "—";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** The table's properties as the facets carry them: storage, catalog names, snapshot, tags, owners. */
function properties(ds) {
  const f = ds.facets || {};
  const rows = [];
  if (f.dataSource) rows.push(["Storage", `${f.dataSource.name || ""}${f.dataSource.uri && f.dataSource.uri !== f.dataSource.name ? ` (${f.dataSource.uri})` : ""}`]);
  for (const s of (f.symlinks && f.symlinks.identifiers) || []) rows.push([`${s.type || "Name"} in ${s.namespace}`, h("code", null, s.name)]);
  if (f.version && f.version.datasetVersion) rows.push(["Current snapshot", h("code", null, String(f.version.datasetVersion))]);
  if (f.lifecycleStateChange) rows.push(["Last change", f.lifecycleStateChange.lifecycleStateChange || "—"]);
  for (const o of (f.ownership && f.ownership.owners) || []) rows.push(["Owner", `${o.name}${o.type ? ` (${o.type})` : ""}`]);
  if (f.documentation && f.documentation.description) rows.push(["Description", f.documentation.description]);
  for (const t of (f.tags && Array.isArray(f.tags.tags) && f.tags.tags) || []) {
    rows.push([`Tag${t.field ? ` on ${t.field}` : ""}`, h("span", null, h("span.badge.tag", null, `${t.key}=${t.value}`), t.source ? h("span.muted", null, ` from ${t.source}`) : null)]);
  }
  if (f.storage) rows.push(["Format", `${f.storage.storageLayer || ""} ${f.storage.fileFormat || ""}`.trim()]);
  return rows.length ? table(["", ""], rows, { class: "kv properties" }) : h("p.muted", null, "No table properties recorded.");
}

/** The run that wrote a version; none for a version a DatasetEvent recorded (no run wrote it). */
function writer(v) {
  const run = v.runId || (v.createdByRun && v.createdByRun.id);
  return run && !run.startsWith("dataset-event:") ? run : null;
}

/** outputStatistics ({rowCount, size, fileCount}) each writing run recorded for this dataset, by run id. */
async function writeStats(ns, name, versions) {
  const runIds = [...new Set(versions.map(writer).filter(Boolean))];
  const answers = await Promise.allSettled(runIds.map((id) => api.run(id)));
  const stats = new Map();
  answers.forEach((a, i) => {
    if (a.status !== "fulfilled") return;
    const out = (a.value.outputDatasetVersions || []).find(
      (o) => o.datasetVersionId.namespace === ns && o.datasetVersionId.name === name,
    );
    const s = out && out.facets && out.facets.outputStatistics;
    if (s) stats.set(runIds[i], s);
  });
  return stats;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const quoteIdent = (name) => (IDENT.test(name) ? name : `"${name.replaceAll('"', '""')}"`);

/**
 * The rows a failed check complains about, as a SQL condition for the root-cause view, when the
 * assertion says: `not_null(col)` (rows where col is null), or a SQL condition over the dataset's
 * columns (Headwater's `sql` checks, named by their condition: rows where it does not hold).
 * Null when it cannot be told (unique, row counts, another tool's named expectations).
 */
export function badRowsWhere(assertion, fields) {
  const columns = new Set(fields.map((f) => f.name));
  const notNull = /^not_null\((.+)\)$/.exec(assertion);
  if (notNull) return columns.has(notNull[1]) ? `${quoteIdent(notNull[1])} IS NULL` : null;
  const words = assertion.match(/[A-Za-z_][A-Za-z0-9_]*/g) || [];
  const comparison = /(<|>|=|\bLIKE\b|\bIN\b|\bBETWEEN\b|\bIS\b)/i.test(assertion);
  return comparison && words.some((w) => columns.has(w)) ? `NOT (${assertion})` : null;
}

/** Every quality-check result recorded on the dataset, newest first. */
function qualityHistory(answer, id, fields) {
  if (answer.status === "rejected") return errorBox(answer.reason, "Could not load the quality checks");
  const { results, totalCount } = answer.value;
  if (!results.length) return h("p.muted", null, "No quality checks recorded.");
  const failed = results.filter((r) => !r.success).length;
  return h(
    "div",
    null,
    h("p.muted", null, `${totalCount} result${totalCount === 1 ? "" : "s"}${failed ? `, ${failed} failed in the latest ${results.length}` : ""}`),
    table(
      ["Checked", "Assertion", "Column", "Result", "Check job", "Run", ""],
      results.map((r) => [
        time(r.eventTime),
        h("code", null, r.assertion),
        r.column ? h("code", null, r.column) : "—",
        r.success ? h("span.badge.state-completed", null, "passed") : h("span.badge.state-failed", null, "failed"),
        r.job ? jobLink(r.job) : "—",
        r.runId ? link(api.runUrl(r.runId), h("code", null, r.runId)) : "—",
        !r.success && badRowsWhere(r.assertion, fields)
          ? h("a.trace-check", { href: api.traceUrl(id, badRowsWhere(r.assertion, fields)), "data-link": true }, "Trace bad rows")
          : "",
      ]),
      { class: "quality" },
    ),
  );
}

/** Producing and consuming jobs from the dataset's depth-1 lineage. */
function neighbours(graph, id) {
  const nodes = new Map(graph.map((n) => [n.id, n]));
  const me = nodes.get(id);
  if (!me) return { producers: [], consumers: [] };
  const pick = (ids) => ids.map((i) => nodes.get(i)).filter((n) => n && n.type === "JOB");
  return {
    producers: pick(me.inEdges.map((e) => e.origin)),
    consumers: pick(me.outEdges.map((e) => e.destination)),
  };
}

function jobList(jobs) {
  if (!jobs.length) return h("p.muted", null, "none");
  return h(
    "ul.plain",
    null,
    jobs.map((j) => h("li", null, jobLink(j.data), " ", stateBadge(j.data.latestRun && j.data.latestRun.state))),
  );
}

/** /datasets/{namespace}/{name} */
export async function datasetView({ params: [ns, name], root }) {
  loading(root);
  document.title = `${api.shortName(name)} · Headwater`;
  const id = api.datasetId(ns, name);
  let ds;
  try {
    ds = await api.dataset(ns, name);
  } catch (err) {
    failure(root, err, `dataset ${ns}:${name}`, api.shortName(name));
    return;
  }
  const [graph, versions, quality] = await Promise.allSettled([
    api.lineage(id, 1, "both"),
    api.datasetVersions(ns, name),
    api.qualityHistory(ns, name),
  ]);
  const stats = versions.status === "fulfilled" ? await writeStats(ns, name, versions.value.versions) : new Map();
  const { producers, consumers } =
    graph.status === "fulfilled" ? neighbours(graph.value.graph, id) : { producers: [], consumers: [] };
  const facets = ds.facets || {};
  const owners = (facets.ownership && facets.ownership.owners) || [];
  fill(root,
    pageHeader("dataset", ds.name, ds.namespace, [
      link(api.lineageUrl(id), "Lineage graph"),
      link(api.lineageUrl(id, { mode: "column" }), "Column lineage"),
      link(api.impactUrl(id), "Impact of a change"),
      link(api.traceUrl(id), "Trace bad rows"),
      link(api.auditUrl({ dataset: `${ds.namespace}:${ds.name}` }), "Audit trail"),
    ]),
    ds.description ? h("p.description", null, ds.description) : null,
    h(
      "div.grid",
      null,
      h(
        "section.card",
        null,
        h("h2", null, "About"),
        table(
          ["", ""],
          [
            ["Source", ds.sourceName || "—"],
            ["Updated", time(ds.updatedAt)],
            ["Lifecycle", ds.lastLifecycleState || "—"],
            ["Current version", h("code", null, ds.currentVersion || "—")],
            ["Owners", owners.map((o) => o.name).join(", ") || "—"],
            ["Tags", (ds.tags || []).join(", ") || "—"],
            ["Also known as", (ds.symlinks || []).map((s) => `${s.namespace}:${s.name}`).join(", ") || "—"],
          ],
          { class: "kv" },
        ),
      ),
      h(
        "section.card",
        null,
        h("h2", null, "Produced by"),
        graph.status === "rejected" ? errorBox(graph.reason, "Could not load lineage") : jobList(producers),
        h("h2", null, "Consumed by"),
        graph.status === "rejected" ? null : jobList(consumers),
      ),
    ),
    h(
      "section.card",
      null,
      h("h2", null, `Schema (${(ds.fields || []).length} columns)`),
      table(
        ["Column", "Type", "Tags", "Description", ""],
        (ds.fields || []).map((f) => [
          h("code", null, f.name),
          f.type || "—",
          (f.tags || []).map((t) => h("span.badge.tag", null, t)),
          f.description || "",
          link(api.lineageUrl(id, { mode: "column", column: f.name }), "column lineage"),
        ]),
        { class: "schema" },
      ),
    ),
    h(
      "section.card",
      null,
      h("h2", null, "Versions"),
      versions.status === "rejected"
        ? errorBox(versions.reason, "Could not load versions")
        : table(
            ["Created", "Version", "Snapshot / dataset version", "Rows", "Size", "Files", "Written by run"],
            versions.value.versions.map((v) => {
              const run = writer(v);
              const snapshot = v.facets && v.facets.version && v.facets.version.datasetVersion;
              const s = (run && stats.get(run)) || {};
              return [
                time(v.createdAt),
                h("code", null, v.version),
                snapshot ? h("code", null, snapshot) : "—",
                typeof s.rowCount === "number" ? s.rowCount.toLocaleString() : "—",
                bytes(s.size),
                typeof s.fileCount === "number" ? String(s.fileCount) : "—",
                run ? link(api.runUrl(run), h("code", null, run)) : v.runId ? "a dataset event" : "—",
              ];
            }),
            { class: "versions" },
          ),
    ),
    h("section.card.quality-history", null, h("h2", null, "Quality checks"), qualityHistory(quality, id, ds.fields || [])),
    h("section.card.table-properties", null, h("h2", null, "Table properties"), properties(ds)),
    h(
      "section.card",
      null,
      h("h2", null, "Facets"),
      Object.keys(facets).length
        ? Object.entries(facets).map(([k, v]) => jsonBlock(k, v))
        : h("p.muted", null, "none"),
    ),
  );
}
