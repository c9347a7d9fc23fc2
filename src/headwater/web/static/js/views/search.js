// Search: datasets, jobs and columns by name, namespace, column, tag, owner and SQL text,
// with up/down/enter keyboard navigation.
import * as api from "../api.js";
import { errorBox, fill, h, time } from "../dom.js";
import { navigate, setQuery } from "../router.js";

const KINDS = [
  ["", "All"],
  ["DATASET", "Datasets"],
  ["JOB", "Jobs"],
  ["FIELD", "Columns"],
];
// Where to look (the API's `match`): everything, or one place.
const PLACES = [
  ["all", "everywhere"],
  ["name", "names"],
  ["namespace", "namespaces"],
  ["column", "columns"],
  ["tag", "tags"],
  ["owner", "owners"],
  ["sql", "SQL"],
];
const KIND_LABEL = { DATASET: "dataset", JOB: "job", FIELD: "column" };
const MATCH_LABEL = { name: "name", namespace: "namespace", column: "column", tag: "tag", owner: "owner", sql: "SQL" };

/** Where a result opens: a dataset or job page, or a column's lineage. */
export function resultUrl(result) {
  if (result.type === "JOB") return api.jobUrl(result.namespace, result.name);
  if (result.type === "FIELD") {
    return api.lineageUrl(api.datasetId(result.namespace, result.dataset), { mode: "column", column: result.field });
  }
  return api.datasetUrl(result.namespace, result.name);
}

function resultName(r) {
  return r.type === "FIELD" ? `${api.shortName(r.dataset)}.${r.field}` : api.shortName(r.name);
}

/** What matched, as a small badge with the matching text (a tag, an owner, a line of SQL). */
function matchedBadge(r) {
  if (!r.matched || r.matched === "name") return h("span.match");
  const detail = r.detail ? (r.matched === "sql" ? h("code", null, r.detail) : ` ${r.detail}`) : null;
  return h("span.match", { dataset: { matched: r.matched } }, h("span.badge.match-kind", null, MATCH_LABEL[r.matched] || r.matched), " ", detail);
}

/**
 * A search box with a live, keyboard-navigable result list.
 * @param {{q?: string, filter?: string, place?: string, syncUrl?: boolean}} options
 */
export function searchBox({ q = "", filter = "", place = "all", syncUrl = false } = {}) {
  const input = h("input.search-input", {
    type: "search",
    value: q,
    placeholder: "Search datasets, jobs, columns, tags, owners, SQL…",
    "aria-label": "Search datasets, jobs and columns",
    autocomplete: "off",
    autofocus: true,
  });
  const kind = h(
    "select",
    { "aria-label": "Kind" },
    KINDS.map(([value, label]) => h("option", { value, selected: filter === value }, label)),
  );
  const where = h(
    "select",
    { "aria-label": "Look in" },
    PLACES.map(([value, label]) => h("option", { value, selected: place === value }, `in ${label}`)),
  );
  const status = h("p.muted.search-status");
  const list = h("ul.results", { role: "listbox" });
  let results = [];
  let active = -1;
  let seq = 0;

  function highlight(index) {
    active = index;
    [...list.children].forEach((li, i) => {
      li.classList.toggle("active", i === index);
      li.setAttribute("aria-selected", String(i === index));
      if (i === index) li.scrollIntoView({ block: "nearest" });
    });
  }

  async function run() {
    const text = input.value.trim();
    if (syncUrl) {
      const state = {};
      if (text) state.q = text;
      if (kind.value) state.filter = kind.value;
      if (where.value !== "all") state.in = where.value;
      setQuery(state);
    }
    const mine = ++seq;
    if (!text) {
      results = [];
      list.replaceChildren();
      fill(status, "Type a name, a column, a tag, an owner or a piece of SQL.");
      return;
    }
    let answer;
    try {
      answer = await api.search(text, kind.value, where.value);
    } catch (err) {
      if (mine === seq) fill(list, h("li.error-item", null, errorBox(err, "Search failed")));
      return;
    }
    if (mine !== seq) return; // a newer query is on its way
    results = answer.results;
    const shown = results.length < answer.totalCount ? ` (the best ${results.length} shown)` : "";
    fill(status, `${answer.totalCount} result${answer.totalCount === 1 ? "" : "s"}${shown}`);
    fill(list,
      ...results.map((r, i) =>
        h(
          "li.result",
          {
            role: "option",
            dataset: { nodeId: r.nodeId, type: r.type, matched: r.matched || "name" },
            onclick: () => navigate(resultUrl(r)),
            onmousemove: () => active !== i && highlight(i),
          },
          h(`span.kind.kind-${(KIND_LABEL[r.type] || "dataset")}`, null, KIND_LABEL[r.type] || r.type),
          h("span.result-name", null, resultName(r)),
          h("span.muted.result-full", null, `${r.namespace} · ${r.type === "FIELD" ? r.dataset : r.name}`),
          matchedBadge(r),
          h("span.muted.result-time", null, time(r.updatedAt)),
        ),
      ),
    );
    highlight(results.length ? 0 : -1);
  }

  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 150);
  });
  kind.addEventListener("change", run);
  where.addEventListener("change", run);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && results.length) {
      event.preventDefault();
      highlight(Math.min(active + 1, results.length - 1));
    } else if (event.key === "ArrowUp" && results.length) {
      event.preventDefault();
      highlight(Math.max(active - 1, 0));
    } else if (event.key === "Enter" && active >= 0 && results[active]) {
      event.preventDefault();
      navigate(resultUrl(results[active]));
    }
  });
  setTimeout(() => {
    input.focus();
    run();
  });
  return h("div.search", null, h("div.search-row", null, input, kind, where), status, list);
}

/** The search page (also the home page). */
export function searchView({ query, root }) {
  root.append(
    h("h1", null, "Search"),
    h(
      "p.muted",
      null,
      "Find a dataset, job or column by its name or namespace, a tag, an owner or a piece of its SQL, ",
      "then open its page or its column lineage. Use ↑ ↓ and Enter.",
    ),
    searchBox({
      q: query.get("q") || "",
      filter: query.get("filter") || "",
      place: PLACES.some(([v]) => v === query.get("in")) ? query.get("in") : "all",
      syncUrl: true,
    }),
  );
}
