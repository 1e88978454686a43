// The clr-service dashboard: runs and comparisons of the key's owner, and one run's plot while it trains.
"use strict";

const KEY_ITEM = "clr-api-key";
const REFRESH_MS = 2000;
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const $ = (id) => document.getElementById(id);

function takeKeyFromFragment() {
  // A link like /ui#key=... hands the page a key without typing; it is removed from the address at once.
  // A stored key is replaced only when the user agrees: a link from someone else must not swap it silently.
  const match = location.hash.match(/(?:^#|&)key=([^&]+)/);
  if (match) {
    const offered = decodeURIComponent(match[1]);
    const stored = localStorage.getItem(KEY_ITEM);
    if (!stored || stored === offered ||
        confirm("This link carries another API key. Replace the key stored in this browser with it?")) {
      localStorage.setItem(KEY_ITEM, offered);
    }
    history.replaceState(null, "", location.pathname + location.search);
  }
}

async function api(path) {
  const answer = await fetch(path, {
    headers: { Authorization: `Bearer ${localStorage.getItem(KEY_ITEM)}` },
  });
  if (answer.status === 401) {
    localStorage.removeItem(KEY_ITEM);
    showLogin("The API key is unknown or revoked.");
    throw new Error("unauthorized");
  }
  return answer;
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function showLogin(message) {
  $("login").hidden = false;
  $("runs-view").hidden = true;
  $("run-view").hidden = true;
  $("forget").hidden = true;
  showError(message || "");
}

function cell(row, content) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? "";
  return td;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function progressOf(run) {
  const p = run.progress;
  const bar = element("progress", undefined, { max: "1" });
  if (p.fraction !== null) bar.value = p.fraction;
  else if (TERMINAL.has(run.status)) bar.value = 1;
  else if (run.status === "queued") bar.value = 0;
  const span = element("span");
  const steps = p.total_steps ? `${p.step} / ${p.total_steps}` : p.step ? `${p.step}` : "";
  span.append(bar, element("span", steps, { class: "steps" }));
  return span;
}

function resultOf(run) {
  if (run.error) return run.error.detail || run.error.code;
  const r = run.result || {};
  if (r.suggested_max_lr) return `max_lr ≈ ${Number(r.suggested_max_lr).toExponential(2)}`;
  if (r.final) return `val acc ${(100 * r.final.val_accuracy).toFixed(1)} % after ${r.epochs_completed} epochs`;
  return "";
}

function badge(status) {
  return element("span", status, { class: `status ${status}` });
}

async function showRuns() {
  $("runs-view").hidden = false;
  const answer = await api("/runs?limit=50");
  if (!answer.ok) return showError(`could not list runs: HTTP ${answer.status}`);
  const page = await answer.json();
  const body = $("runs").tBodies[0];
  body.replaceChildren();
  for (const run of page.items) {
    const row = body.insertRow();
    row.dataset.runId = run.id;
    row.dataset.status = run.status;
    cell(row, element("a", run.id, { href: `/ui?run=${encodeURIComponent(run.id)}` }));
    cell(row, run.kind);
    cell(row, badge(run.status));
    cell(row, progressOf(run));
    cell(row, new Date(run.created_at).toLocaleString());
    cell(row, resultOf(run));
  }
  document.body.dataset.runsLoaded = "true";
  await showComparisons();
  if (page.items.some((run) => !run.is_terminal)) setTimeout(() => showRuns().catch(report), REFRESH_MS);
}

async function showComparisons() {
  const answer = await api("/comparisons");
  if (!answer.ok) return; // a service without comparisons
  const page = await answer.json();
  const list = $("comparisons");
  list.replaceChildren(
    ...page.items.map((item) => {
      const li = element("li", undefined, { "data-comparison-id": item.id });
      const link = element("a", item.id, { href: `/ui?comparison=${encodeURIComponent(item.id)}` });
      li.append(link, " ", badge(item.status), ` ${countsOf(item)}`);
      return li;
    }),
  );
  $("comparisons-view").hidden = page.items.length === 0;
}

function countsOf(comparison) {
  return Object.entries(comparison.counts).map(([status, count]) => `${count} ${status}`).join(", ");
}

async function showComparison(comparisonId) {
  $("run-view").hidden = false;
  const path = `/comparisons/${encodeURIComponent(comparisonId)}`;
  const answer = await api(path);
  if (!answer.ok) return showError(`no comparison ${comparisonId} (HTTP ${answer.status})`);
  const comparison = await answer.json();
  document.body.dataset.comparisonStatus = comparison.status;
  $("run-title").replaceChildren("comparison ", element("code", comparison.id), " ", badge(comparison.status));
  $("run-facts").replaceChildren(
    ...comparison.children.flatMap((child) => {
      const dd = element("dd");
      const link = element("a", child.run.id, { href: `/ui?run=${encodeURIComponent(child.run.id)}` });
      dd.append(link, " ", badge(child.run.status), " ", progressOf(child.run));
      return [element("dt", `${child.variant} #${child.repeat}`), dd];
    }),
  );
  await loadPlot(`${path}/plot.png`);
  if (comparison.status === "running") setTimeout(() => showComparison(comparisonId).catch(report), REFRESH_MS);
}

let plotUrl = null;

async function loadPlot(path) {
  const answer = await api(path);
  if (!answer.ok) {
    $("plot-note").textContent = `no plot yet (HTTP ${answer.status})`;
    return;
  }
  const previous = plotUrl;
  plotUrl = URL.createObjectURL(await answer.blob());
  $("plot").src = plotUrl;
  $("plot-note").textContent = `updated ${new Date().toLocaleTimeString()}`;
  if (previous) URL.revokeObjectURL(previous);
}

async function showRun(runId) {
  $("run-view").hidden = false;
  const answer = await api(`/runs/${encodeURIComponent(runId)}`);
  if (!answer.ok) return showError(`no run ${runId} (HTTP ${answer.status})`);
  const run = await answer.json();
  document.body.dataset.runStatus = run.status;
  $("run-title").replaceChildren(`${run.kind} `, element("code", run.id), " ", badge(run.status));
  const facts = {
    model: `${run.request.model?.name} on ${run.request.dataset?.name}`,
    optimizer: run.request.optimizer?.name || "sgd",
    progress: progressOf(run),
    created: new Date(run.created_at).toLocaleString(),
    result: resultOf(run),
  };
  $("run-facts").replaceChildren(
    ...Object.entries(facts).flatMap(([name, value]) => {
      const dd = element("dd");
      dd.append(value);
      return [element("dt", name), dd];
    }),
  );
  await loadPlot(`/runs/${encodeURIComponent(run.id)}/plot.png`);
  if (!run.is_terminal) setTimeout(() => showRun(runId).catch(report), REFRESH_MS);
}

function report(error) {
  if (error.message !== "unauthorized") showError(String(error));
}

function start() {
  takeKeyFromFragment();
  $("plot").addEventListener("load", () => {
    $("plot").hidden = false;
    $("plot").dataset.plotLoaded = "true";
  });
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_ITEM, $("key").value.trim());
    location.reload();
  });
  $("forget").addEventListener("click", () => {
    localStorage.removeItem(KEY_ITEM);
    location.reload();
  });
  if (!localStorage.getItem(KEY_ITEM)) return showLogin();
  $("forget").hidden = false;
  const query = new URLSearchParams(location.search);
  const view = query.has("run")
    ? showRun(query.get("run"))
    : query.has("comparison")
      ? showComparison(query.get("comparison"))
      : showRuns();
  view.catch(report);
}

start();
