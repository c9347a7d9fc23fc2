// Search: datasets and jobs by name, with up/down/enter keyboard navigation.
import * as api from "../api.js";
import { errorBox, fill, h, time } from "../dom.js";
import { navigate, setQuery } from "../router.js";

function resultUrl(result) {
  return result.type === "JOB"
    ? api.jobUrl(result.namespace, result.name)
    : api.datasetUrl(result.namespace, result.name);
}

/**
 * A search box with a live, keyboard-navigable result list.
 * @param {{q?: string, filter?: string, syncUrl?: boolean}} options
 */
export function searchBox({ q = "", filter = "", syncUrl = false } = {}) {
  const input = h("input.search-input", {
    type: "search",
    value: q,
    placeholder: "Search datasets and jobs by name…",
    "aria-label": "Search datasets and jobs",
    autocomplete: "off",
    autofocus: true,
  });
  const kind = h(
    "select",
    { "aria-label": "Kind" },
    h("option", { value: "" }, "All"),
    h("option", { value: "DATASET", selected: filter === "DATASET" }, "Datasets"),
    h("option", { value: "JOB", selected: filter === "JOB" }, "Jobs"),
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
    if (syncUrl) setQuery(text || kind.value ? { q: text, ...(kind.value ? { filter: kind.value } : {}) } : {});
    const mine = ++seq;
    if (!text) {
      list.replaceChildren();
      fill(status, "Type a name: a table, a path fragment or a job.");
      return;
    }
    let answer;
    try {
      answer = await api.search(text, kind.value);
    } catch (err) {
      if (mine === seq) fill(list, h("li.error-item", null, errorBox(err, "Search failed")));
      return;
    }
    if (mine !== seq) return; // a newer query is on its way
    results = answer.results;
    fill(status, `${answer.totalCount} result${answer.totalCount === 1 ? "" : "s"}`);
    fill(list,
      ...results.map((r, i) =>
        h(
          "li.result",
          {
            role: "option",
            dataset: { nodeId: r.nodeId, type: r.type },
            onclick: () => navigate(resultUrl(r)),
            onmousemove: () => active !== i && highlight(i),
          },
          h(`span.kind.kind-${r.type.toLowerCase()}`, null, r.type === "JOB" ? "job" : "dataset"),
          h("span.result-name", null, api.shortName(r.name)),
          h("span.muted.result-full", null, `${r.namespace} · ${r.name}`),
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
  return h("div.search", null, h("div.search-row", null, input, kind), status, list);
}

/** The search page (also the home page). */
export function searchView({ query, root }) {
  root.append(
    h("h1", null, "Search"),
    h(
      "p.muted",
      null,
      "Find a dataset or job, then open its page, its lineage graph or its column lineage. ",
      "Use ↑ ↓ and Enter.",
    ),
    searchBox({ q: query.get("q") || "", filter: query.get("filter") || "", syncUrl: true }),
  );
}
