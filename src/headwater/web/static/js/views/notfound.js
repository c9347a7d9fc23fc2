// The 404 view: what was asked for, and a search box to find the right thing.
import { h } from "../dom.js";
import { searchBox } from "./search.js";

/** A "not found" block with search, for unknown URLs and unknown entities. */
export function notFoundBlock(what, q = "") {
  return h(
    "section.not-found",
    null,
    h("h1", null, "Not found"),
    h("p", null, what),
    h("p.muted", null, "Search for it instead:"),
    searchBox({ q }),
  );
}

/** Unknown UI paths. */
export function notFoundView({ root }) {
  document.title = "Not found · Headwater";
  root.append(notFoundBlock(`There is no page at ${location.pathname}.`));
}
