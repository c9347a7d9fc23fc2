// History-API routing: every view has a URL; in-app links push state, the back button pops it.

const routes = [];
let fallback = null;
let current = null; // the running view's cleanup function

/**
 * Register a view.
 * @param {RegExp} pattern matched against the decoded-per-segment pathname
 * @param {(ctx: {params: string[], query: URLSearchParams, root: HTMLElement}) => any} view
 */
export function route(pattern, view) {
  routes.push({ pattern, view });
}

/** The view for paths no route matches (the 404 page). */
export function notFound(view) {
  fallback = view;
}

/** Go to an in-app URL, adding a history entry (or replacing the current one). */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

/** Update the query string of the current URL without re-rendering (view state). */
export function setQuery(params) {
  const query = new URLSearchParams(params);
  history.replaceState(null, "", `${location.pathname}?${query}`);
}

/** Render the view for the current location. */
export async function render() {
  const root = document.getElementById("view");
  if (typeof current === "function") {
    try {
      current();
    } catch {
      /* a view's cleanup never blocks the next view */
    }
  }
  current = null;
  root.replaceChildren();
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const query = new URLSearchParams(location.search);
  for (const { pattern, view } of routes) {
    const m = path.match(pattern);
    if (m) {
      const params = m.slice(1).map((p) => (p === undefined ? p : safeDecode(p)));
      current = await view({ params, query, root });
      return;
    }
  }
  current = await fallback({ params: [], query, root });
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Intercept clicks on a[data-link] and listen to the back button. */
export function start() {
  document.addEventListener("click", (event) => {
    const a = event.target.closest("a[data-link]");
    if (!a || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(a.getAttribute("href"));
  });
  window.addEventListener("popstate", render);
  render();
}
