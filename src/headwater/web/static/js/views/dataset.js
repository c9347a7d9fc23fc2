// Dataset page: schema, facets, versions, producing and consuming jobs.
import * as api from "../api.js";
import { errorBox, fill, h, jsonBlock, link, stateBadge, table, time } from "../dom.js";
import { failure, jobLink, loading, pageHeader } from "./common.js";

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
  const [graph, versions] = await Promise.allSettled([api.lineage(id, 1, "both"), api.datasetVersions(ns, name)]);
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
            ["Created", "Version", "Snapshot / dataset version", "Written by run"],
            versions.value.versions.map((v) => {
              const run = v.runId || (v.createdByRun && v.createdByRun.id);
              const snapshot = v.facets && v.facets.version && v.facets.version.datasetVersion;
              return [
                time(v.createdAt),
                h("code", null, v.version),
                snapshot ? h("code", null, snapshot) : "—",
                run ? link(api.runUrl(run), run.slice(0, 8)) : "—",
              ];
            }),
          ),
    ),
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
