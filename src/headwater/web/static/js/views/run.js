// Run page: state, error and stack trace, parent and child runs, inputs and outputs with versions, facets.
import * as api from "../api.js";
import { duration, errorBox, fill, h, jsonBlock, link, stateBadge, table, time } from "../dom.js";
import { sqlBlock } from "../sql.js";
import { runTimeline } from "../timeline.js";
import { failure, loading } from "./common.js";

/** Runs whose parent run facet points at this run: a timeline and a table, each run linked. */
function childRuns(answer) {
  if (answer instanceof Error) return errorBox(answer, "Could not load the child runs");
  const { runs, totalCount } = answer;
  if (!runs.length) return h("p.muted", null, "none");
  const jobOf = (r) => r.jobVersion || {};
  return h(
    "div",
    null,
    runTimeline(runs, { label: (r) => jobOf(r).name || "?" }),
    table(
      ["Run", "Job", "State", "Started", "Duration"],
      runs.map((r) => [
        link(api.runUrl(r.id), h("code", null, r.id)),
        jobOf(r).name ? link(api.jobUrl(jobOf(r).namespace, jobOf(r).name), jobOf(r).name) : "?",
        stateBadge(r.state),
        time(r.startedAt),
        duration(r.durationMs),
      ]),
      { class: "children" },
    ),
    totalCount > runs.length ? h("p.muted", null, `${runs.length} of ${totalCount} shown`) : null,
  );
}

function versions(list) {
  if (!list || !list.length) return h("p.muted", null, "none");
  return table(
    ["Dataset", "Version"],
    list.map(({ datasetVersionId: v }) => [
      link(api.datasetUrl(v.namespace, v.name), api.shortName(v.name)),
      h("code", null, v.version),
    ]),
  );
}

/** /runs/{id} */
export async function runView({ params: [id], root }) {
  loading(root);
  document.title = `Run ${id.slice(0, 8)} · Headwater`;
  let run;
  try {
    run = await api.run(id);
  } catch (err) {
    failure(root, err, `run ${id}`, "");
    return;
  }
  let children;
  try {
    children = await api.childRuns(id);
  } catch (err) {
    children = err;
  }
  const facets = run.facets || {};
  const job = run.jobVersion || {};
  const error = facets.errorMessage;
  const parent = facets.parent;
  fill(root,
    h(
      "header.page-header",
      null,
      h("span.kind.kind-run", null, "run"),
      h("h1", null, h("code", null, run.id)),
      h("p", null, "of job ", job.name ? link(api.jobUrl(job.namespace, job.name), job.name) : "?", " ", stateBadge(run.state)),
    ),
    error
      ? h(
          "section.card.failure",
          { role: "alert" },
          h("h2", null, "Error"),
          h("pre.error-message", null, error.message),
          error.stackTrace ? h("details.stack", { open: true }, h("summary", null, "Stack trace"), h("pre", null, error.stackTrace)) : null,
        )
      : null,
    h(
      "section.card",
      null,
      h("h2", null, "About"),
      table(
        ["", ""],
        [
          ["State", stateBadge(run.state)],
          ["Started", time(run.startedAt)],
          ["Ended", time(run.endedAt)],
          ["Duration", duration(run.durationMs)],
          ["Nominal start", time(run.nominalStartTime)],
          [
            "Parent run",
            parent
              ? h("span.parent-run", null, link(api.runUrl(parent.run.runId), h("code", null, parent.run.runId)), " (job ", link(api.jobUrl(parent.job.namespace, parent.job.name), parent.job.name), ")")
              : run.parentRunId
                ? link(api.runUrl(run.parentRunId), h("code", null, run.parentRunId))
                : "—",
          ],
          ["Job version", h("code", null, job.version || "—")],
        ],
        { class: "kv" },
      ),
    ),
    h(
      "section.card.child-runs",
      null,
      h("h2", null, `Child runs${children instanceof Error ? "" : ` (${children.totalCount})`}`),
      childRuns(children),
    ),
    h(
      "div.grid",
      null,
      h("section.card", null, h("h2", null, "Inputs"), versions(run.inputDatasetVersions)),
      h("section.card", null, h("h2", null, "Outputs"), versions(run.outputDatasetVersions)),
    ),
    run.context && run.context.sql ? h("section.card", null, h("h2", null, "SQL"), sqlBlock(run.context.sql)) : null,
    h("section.card", null, h("h2", null, "Facets"), Object.entries(facets).map(([k, v]) => jsonBlock(k, v))),
  );
}
