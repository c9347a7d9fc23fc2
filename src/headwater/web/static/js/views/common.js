// Pieces shared by the entity pages.
import * as api from "../api.js";
import { errorBox, fill, h, link } from "../dom.js";
import { notFoundBlock } from "./notfound.js";

/** Render an API failure: a 404 page with search for unknown entities, a message otherwise. */
export function failure(root, err, what, q) {
  fill(root,
    err && err.status === 404 ? notFoundBlock(`${what}: ${err.message}`, q) : errorBox(err, `Could not load ${what}`),
  );
}

/** The page header: kind, short name, full name and action links. */
export function pageHeader(kind, name, namespace, actions) {
  return h(
    "header.page-header",
    null,
    h(`span.kind.kind-${kind}`, null, kind),
    h("h1", null, api.shortName(name)),
    h("p.muted.full-name", null, `${namespace} · ${name}`),
    h("nav.actions", null, actions),
  );
}

/** A link to a dataset page from {namespace, name}. */
export function datasetLink(ds) {
  return link(api.datasetUrl(ds.namespace, ds.name), api.shortName(ds.name));
}

/** A link to a job page from {namespace, name}. */
export function jobLink(j) {
  return link(api.jobUrl(j.namespace, j.name), j.name);
}

/** Show "loading" in root until the promise settles. */
export function loading(root) {
  fill(root, h("p.muted.loading", null, "Loading…"));
}
