// The UI's only data source: Headwater's JSON API (/api/v1/...).
import { authHeaders } from "./auth.js";

/** An API error with the HTTP status and the API's message. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const enc = encodeURIComponent;

/**
 * GET a JSON API path.
 * @param {string} path e.g. "/api/v1/search"
 * @param {Object} params query parameters (null/undefined/"" skipped)
 */
export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") query.set(k, String(v));
  }
  const url = query.toString() ? `${path}?${query}` : path;
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json", ...authHeaders() } });
  } catch (err) {
    throw new ApiError(0, `The Headwater server did not answer (${err.message}).`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = (body && (body.message || body.detail)) || response.statusText;
    throw new ApiError(response.status, typeof message === "string" ? message : JSON.stringify(message), body);
  }
  return body;
}

/** Search names, namespaces, columns, tags, owners and SQL (`match`: "all" or a comma list), best matches first. */
export const search = (q, filter, match = "all") =>
  get("/api/v1/search", { q, filter, match, sort: "RELEVANCE", limit: 50 });
export const lineage = (nodeId, depth, direction, asOf) =>
  get("/api/v1/lineage", { nodeId, depth, direction, asOf });
export const columnLineage = (nodeId, depth, asOf) =>
  get("/api/v1/column-lineage", { nodeId, depth, withDownstream: true, asOf });
export const dataset = (ns, name) => get(`/api/v1/namespaces/${enc(ns)}/datasets/${enc(name)}`);
export const datasetVersions = (ns, name) =>
  get(`/api/v1/namespaces/${enc(ns)}/datasets/${enc(name)}/versions`, { limit: 10 });
export const job = (ns, name) => get(`/api/v1/namespaces/${enc(ns)}/jobs/${enc(name)}`);
export const jobRuns = (ns, name) =>
  get(`/api/v1/namespaces/${enc(ns)}/jobs/${enc(name)}/runs`, { limit: 50 });
export const jobVersions = (ns, name) =>
  get(`/api/v1/namespaces/${enc(ns)}/jobs/${enc(name)}/versions`, { limit: 50 });
export const jobVersionDiff = (ns, name, from, to) =>
  get(`/api/v1/headwater/jobs/${enc(ns)}/${enc(name)}/versions/diff`, { from, to });
export const run = (id) => get(`/api/v1/runs/${enc(id)}`);
export const childRuns = (id) => get(`/api/v1/headwater/runs/${enc(id)}/children`, { limit: 200 });
export const qualityHistory = (ns, name) =>
  get(`/api/v1/headwater/datasets/${enc(ns)}/${enc(name)}/quality`, { limit: 100 });
export const verifyChain = () => get("/api/v1/headwater/audit/verify");
export const piiFlow = () => get("/api/v1/headwater/pii");
export const impact = (nodeId, change, depth) =>
  get("/api/v1/headwater/impact", { nodeId, change, depth });
export const trace = (dataset, where, asOf = "") =>
  get("/api/v1/headwater/trace", { dataset, where, asOf });
export const audit = (filters) => get("/api/v1/headwater/audit", filters);
export const diff = (from, to) => get("/api/v1/headwater/diff", { from, to });

// ---- node ids: dataset:NS:NAME, job:NS:NAME, datasetField:NS:NAME:FIELD (docs/api.md) ----

/**
 * Split a node id into kind, namespace, name and field.
 * A namespace starting with scheme:// runs to the authority and an optional numeric :port;
 * otherwise it ends at the first ":". A field is what follows the last ":".
 */
export function parseNodeId(id) {
  const colon = id.indexOf(":");
  if (colon < 0) return null;
  const kind = id.slice(0, colon);
  let rest = id.slice(colon + 1);
  let namespace;
  const scheme = rest.match(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/:]*(?::\d+)?)(?::|$)/);
  if (scheme) {
    namespace = scheme[1];
    rest = rest.slice(namespace.length + 1);
  } else {
    const end = rest.indexOf(":");
    if (end < 0) return null;
    namespace = rest.slice(0, end);
    rest = rest.slice(end + 1);
  }
  if (kind === "datasetField") {
    const last = rest.lastIndexOf(":");
    if (last < 0) return null;
    return { kind, namespace, name: rest.slice(0, last), field: rest.slice(last + 1) };
  }
  if (kind !== "dataset" && kind !== "job") return null;
  return { kind, namespace, name: rest };
}

export const datasetId = (ns, name) => `dataset:${ns}:${name}`;
export const jobId = (ns, name) => `job:${ns}:${name}`;
export const fieldId = (ns, name, field) => `datasetField:${ns}:${name}:${field}`;

/** The last path segment of a name: "/warehouse/db/orders" -> "orders". */
export function shortName(name) {
  const parts = String(name).split("/").filter(Boolean);
  return parts.length ? parts[parts.length - 1] : String(name);
}

// ---- UI URLs ----

export const datasetUrl = (ns, name) => `/datasets/${enc(ns)}/${enc(name)}`;
export const jobUrl = (ns, name) => `/jobs/${enc(ns)}/${enc(name)}`;
export const runUrl = (id) => `/runs/${enc(id)}`;
export const lineageUrl = (node, extra = {}) =>
  `/lineage?${new URLSearchParams({ node, ...extra })}`;
export const impactUrl = (node, change = "drop") => `/impact?${new URLSearchParams({ node, change })}`;
export const traceUrl = (dataset, where = "", asOf = "") =>
  `/trace?${new URLSearchParams({ dataset, where, ...(asOf ? { asOf } : {}) })}`;
export const auditUrl = (filters = {}) => `/audit?${new URLSearchParams(filters)}`;

/** The entity page for a node id. */
export function nodeUrl(id) {
  const n = parseNodeId(id);
  if (!n) return lineageUrl(id);
  return n.kind === "job" ? jobUrl(n.namespace, n.name) : datasetUrl(n.namespace, n.name);
}
