// Job page: SQL, inputs and outputs, a run timeline, runs with state and duration, versions
// with a diff between any two of them.
import * as api from "../api.js";
import { duration, errorBox, fill, h, jsonBlock, link, stateBadge, table, time } from "../dom.js";
import { setQuery } from "../router.js";
import { sqlBlock } from "../sql.js";
import { runTimeline } from "../timeline.js";
import { datasetLink, failure, loading, pageHeader } from "./common.js";
import { unifiedDiff } from "./diff.js";

/** "NS:NAME" of a dataset reference -> a link to its page. */
function datasetRef(ref) {
  const n = api.parseNodeId(`dataset:${ref}`);
  return n ? link(api.datasetUrl(n.namespace, n.name), api.shortName(n.name)) : ref;
}

function refList(cls, refs) {
  return refs.length ? h(`ul.plain.${cls}`, null, refs.map((r) => h("li", null, datasetRef(r)))) : null;
}

/** The diff between two job versions: SQL as a unified diff, inputs and outputs added and removed. */
function versionDiff(d) {
  const io = [...d.inputsAdded, ...d.inputsRemoved, ...d.outputsAdded, ...d.outputsRemoved];
  return h(
    "div.version-diff",
    null,
    h(
      "p.muted",
      null,
      d.from ? ["From ", h("code", null, d.from.version.slice(0, 8)), ` (${time(d.from.createdAt)})`] : "From nothing (the first version)",
      " to ",
      h("code", null, d.to.version.slice(0, 8)),
      ` (${time(d.to.createdAt)})`,
    ),
    h("h3", null, "SQL"),
    d.sql ? unifiedDiff(d.sql) : h("p.muted.same-sql", null, "The SQL is the same."),
    h("h3", null, "Inputs and outputs"),
    io.length
      ? h(
          "div.io-changes",
          null,
          d.inputsAdded.length || d.inputsRemoved.length ? h("div.inputs", null, h("strong", null, "Inputs"), refList("added", d.inputsAdded), refList("removed", d.inputsRemoved)) : null,
          d.outputsAdded.length || d.outputsRemoved.length ? h("div.outputs", null, h("strong", null, "Outputs"), refList("added", d.outputsAdded), refList("removed", d.outputsRemoved)) : null,
        )
      : h("p.muted", null, "Same inputs and outputs."),
  );
}

/**
 * Versions, newest first, with a From and a To radio each; the diff of the chosen pair below.
 * The pair is kept in the URL (?from=&to=), so a link or a reload shows the same diff.
 */
function versionsSection(ns, name, versions, query) {
  const out = h("div.diff-out");
  const ids = versions.map((v) => v.version);
  const pick = (key, fallback) => (ids.includes(query.get(key)) ? query.get(key) : fallback);
  let to = pick("to", ids[0]);
  let from = pick("from", ids[ids.indexOf(to) + 1] || "");
  let seq = 0;

  async function show() {
    const mine = ++seq;
    setQuery({ ...(from ? { from } : {}), to });
    fill(out, h("p.muted.loading", null, "Comparing…"));
    try {
      const d = await api.jobVersionDiff(ns, name, from, to);
      if (mine === seq) fill(out, versionDiff(d));
    } catch (err) {
      if (mine === seq) fill(out, errorBox(err, "Could not compare the versions"));
    }
  }

  const radio = (key, version) =>
    h("input", {
      type: "radio",
      name: `version-${key}`,
      value: version,
      checked: (key === "from" ? from : to) === version,
      "aria-label": `${key} ${version}`,
      onchange: () => {
        if (key === "from") from = version;
        else to = version;
        show();
      },
    });
  const firstLine = (v) => {
    const sql = (v.facets && v.facets.sql && v.facets.sql.query) || "";
    const line = sql.trim().split("\n")[0];
    return line ? h("code", null, line.length > 60 ? `${line.slice(0, 60)}…` : line) : h("span.muted", null, "no SQL");
  };
  const rows = versions.map((v) => [
    radio("from", v.version),
    radio("to", v.version),
    time(v.createdAt),
    h("code", { title: v.version }, v.version.slice(0, 8)),
    (v.inputs || []).map((d) => h("div", null, datasetLink(d))),
    (v.outputs || []).map((d) => h("div", null, datasetLink(d))),
    firstLine(v),
  ]);
  const body = h(
    "div",
    null,
    table(["From", "To", "Created", "Version", "Inputs", "Outputs", "SQL"], rows, { class: "versions" }),
    versions.length > 1 ? out : h("p.muted", null, "Only one version: nothing to compare yet."),
  );
  if (versions.length > 1) show();
  return body;
}

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
export async function jobView({ params: [ns, name], query, root }) {
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
  const [runsAnswer, versionsAnswer] = await Promise.allSettled([api.jobRuns(ns, name), api.jobVersions(ns, name)]);
  const runs = runsAnswer.status === "fulfilled" ? runsAnswer.value.runs : runsAnswer.reason;
  const versions = versionsAnswer.status === "fulfilled" ? versionsAnswer.value.versions : versionsAnswer.reason;
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
      "section.card.run-timeline",
      null,
      h("h2", null, "Run timeline"),
      runs instanceof Error ? null : runTimeline(runs),
    ),
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
      "section.card.job-versions",
      null,
      h("h2", null, `Versions (${versions instanceof Error ? "?" : versions.length})`),
      versions instanceof Error ? errorBox(versions, "Could not load versions") : versionsSection(ns, name, versions, query),
    ),
    h(
      "section.card",
      null,
      h("h2", null, "Facets"),
      Object.entries(job.facets || {}).map(([k, v]) => jsonBlock(k, v)),
    ),
  );
}
