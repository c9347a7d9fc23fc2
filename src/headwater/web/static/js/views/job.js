// Job page: SQL, inputs and outputs, runs with state and duration.
import * as api from "../api.js";
import { duration, errorBox, fill, h, jsonBlock, link, stateBadge, table, time } from "../dom.js";
import { sqlBlock } from "../sql.js";
import { datasetLink, failure, loading, pageHeader } from "./common.js";

/** The job's SQL: the sql job facet, else the latest run's context. */
function sqlOf(job) {
  const facet = job.facets && job.facets.sql;
  if (facet && facet.query) return facet.query;
  return (job.latestRun && job.latestRun.context && job.latestRun.context.sql) || null;
}

/** Rows written by a run: the sum of its outputs' outputStatistics facets, or "—". */
function rowsWritten(run) {
  const counts = (run.outputDatasetVersions || [])
    .map((o) => o.facets && o.facets.outputStatistics && o.facets.outputStatistics.rowCount)
    .filter((n) => typeof n === "number");
  return counts.length ? counts.reduce((a, b) => a + b, 0).toLocaleString() : "—";
}

/** /jobs/{namespace}/{name} */
export async function jobView({ params: [ns, name], root }) {
  loading(root);
  document.title = `${name} · Headwater`;
  let job;
  try {
    job = await api.job(ns, name);
  } catch (err) {
    failure(root, err, `job ${ns}:${name}`, name);
    return;
  }
  const id = api.jobId(ns, name);
  const sql = sqlOf(job);
  let runs;
  try {
    runs = (await api.jobRuns(ns, name)).runs;
  } catch (err) {
    runs = err;
  }
  fill(root,
    pageHeader("job", job.name, job.namespace, [
      link(api.lineageUrl(id), "Lineage graph"),
      job.latestRun ? link(api.runUrl(job.latestRun.id), "Latest run") : null,
      link(api.auditUrl({ job: `${job.namespace}:${job.name}` }), "Audit trail"),
    ]),
    job.description ? h("p.description", null, job.description) : null,
    h(
      "div.grid",
      null,
      h(
        "section.card",
        null,
        h("h2", null, "Inputs"),
        job.inputs.length ? h("ul.plain", null, job.inputs.map((d) => h("li", null, datasetLink(d)))) : h("p.muted", null, "none"),
        h("h2", null, "Outputs"),
        job.outputs.length ? h("ul.plain", null, job.outputs.map((d) => h("li", null, datasetLink(d)))) : h("p.muted", null, "none"),
      ),
      h(
        "section.card",
        null,
        h("h2", null, "About"),
        table(
          ["", ""],
          [
            ["Type", job.type || "—"],
            ["Latest run", stateBadge(job.latestRun && job.latestRun.state)],
            ["Updated", time(job.updatedAt)],
            ["Parent job", job.parentJobName || "—"],
            ["Current version", h("code", null, (job.currentVersion && job.currentVersion.version) || job.currentVersion || "—")],
          ],
          { class: "kv" },
        ),
      ),
    ),
    h("section.card", null, h("h2", null, "SQL"), sql ? sqlBlock(sql) : h("p.muted", null, "no SQL recorded")),
    h(
      "section.card",
      null,
      h("h2", null, "Runs"),
      runs instanceof Error
        ? errorBox(runs, "Could not load runs")
        : runs.length
          ? table(
              ["Run", "State", "Started", "Ended", "Duration", "Rows written"],
              runs.map((r) => [
                link(api.runUrl(r.id), h("code", null, r.id)),
                stateBadge(r.state),
                time(r.startedAt),
                time(r.endedAt),
                duration(r.durationMs),
                rowsWritten(r),
              ]),
              { class: "runs" },
            )
          : h("p.muted", null, "no runs"),
    ),
    h(
      "section.card",
      null,
      h("h2", null, "Facets"),
      Object.entries(job.facets || {}).map(([k, v]) => jsonBlock(k, v)),
    ),
  );
}
