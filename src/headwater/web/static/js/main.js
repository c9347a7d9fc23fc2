// Entry point: routes, the header search box, and a last-resort error banner.
import { errorBox } from "./dom.js";
import { navigate, notFound, route, start } from "./router.js";
import { auditView } from "./views/audit.js";
import { datasetView } from "./views/dataset.js";
import { diffView } from "./views/diff.js";
import { impactView } from "./views/impact.js";
import { jobView } from "./views/job.js";
import { lineageView } from "./views/lineage.js";
import { notFoundView } from "./views/notfound.js";
import { runView } from "./views/run.js";
import { searchView } from "./views/search.js";
import { traceView } from "./views/trace.js";

route(/^\/$/, searchView);
route(/^\/search$/, searchView);
route(/^\/datasets\/([^/]+)\/(.+)$/, datasetView);
route(/^\/jobs\/([^/]+)\/(.+)$/, jobView);
route(/^\/runs\/([^/]+)$/, runView);
route(/^\/lineage$/, lineageView);
route(/^\/impact$/, impactView);
route(/^\/trace$/, traceView);
route(/^\/audit$/, auditView);
route(/^\/diff$/, diffView);
notFound(notFoundView);

document.getElementById("top-search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = new FormData(event.target).get("q");
  navigate(`/search?${new URLSearchParams({ q })}`);
});

// Never a blank page: an uncaught error shows up as a message above the view.
function showUncaught(err) {
  const view = document.getElementById("view");
  view.prepend(errorBox(err, "The page hit an error"));
}
window.addEventListener("error", (e) => showUncaught(e.error || e.message));
window.addEventListener("unhandledrejection", (e) => showUncaught(e.reason));

start();
