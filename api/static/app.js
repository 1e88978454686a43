// The clr-service dashboard: picks the page from the address and hands it the view.
import { Unauthorized, forgetKey, json, storeKey, storedKey, takeKeyFromFragment } from "./api.js";
import { showComparison } from "./comparison.js";
import { $ } from "./dom.js";
import { showOverlay } from "./overlay.js";
import { showRangeTest } from "./range.js";
import { showRuns } from "./runs.js";
import { showTraining } from "./training.js";

function report(error) {
  if (error instanceof Unauthorized) return showLogin(error.message);
  $("error").textContent = String(error.message ?? error);
  $("error").hidden = false;
}

async function showRun(view, runId) {
  const run = await json(`/runs/${encodeURIComponent(runId)}`);
  document.title = `${run.name || run.id} · clr-service`;
  return run.kind === "lr_find" ? showRangeTest(view, run) : showTraining(view, run);
}

function showLogin(message = "") {
  $("login").hidden = false;
  $("view").replaceChildren();
  $("forget").hidden = true;
  $("error").textContent = message;
  $("error").hidden = !message;
}

function start() {
  takeKeyFromFragment();
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    storeKey($("key").value.trim());
    location.reload();
  });
  $("forget").addEventListener("click", () => {
    forgetKey();
    location.reload();
  });
  window.addEventListener("unhandledrejection", (event) => report(event.reason));
  if (!storedKey()) return showLogin();
  $("forget").hidden = false;
  const query = new URLSearchParams(location.search);
  const view = $("view");
  const page = query.has("run") ? showRun(view, query.get("run"))
    : query.has("comparison") ? showComparison(view, query.get("comparison"))
      : query.has("overlay") ? showOverlay(view, query.get("overlay").split(",").filter(Boolean))
        : showRuns(view, query);
  page.catch(report);
}

start();
