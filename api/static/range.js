// A range test's page: loss against LR with the informative range in view, the suggestions, and training from them.
import { json } from "./api.js";
import { Chart, color } from "./charts.js";
import { $, badge, duration, facts, h, lr, modelOf, number, percent, problem, progress, title } from "./dom.js";
import { followRun } from "./live.js";

/** The rules a range test's result names (the service's list, in its order), each with its colour. */
function rulesOf(result) {
  return Object.keys(result?.suggestions ?? {}).map((rule, index) => ({ rule, color: color(index + 1) }));
}

export async function showRangeTest(view, run) {
  const columns = { lr: [], loss: [], smoothed_loss: [], accuracy: [] };
  const head = h("div", { class: "page-head" });
  const summary = h("div", { class: "summary" });
  const charts = h("div", { class: "charts" });
  const action = h("div", { id: "train-action" });
  view.append(h("section", { id: "range-view", "data-run-id": run.id },
    h("p", {}, h("a", { href: "/ui" }, "← all runs")), head, summary, charts, action));
  const x = { label: "learning rate", log: true, logToggle: true, format: lr };
  const loss = new Chart(charts, {
    title: "Loss against learning rate", id: "chart-loss", x,
    y: { label: "loss", logToggle: true },
    series: [
      { label: "loss", color: "#9aa3b0", width: 1 },
      { label: "smoothed loss", color: color(0), width: 2.5 },
    ],
    view: informativeWindow,
    note: "Zoomed to the informative range: the diverging tail is clipped (Show all to see it). Drag to zoom, double-click to reset.",
  });
  const accuracy = new Chart(charts, {
    title: "Batch accuracy against learning rate", id: "chart-accuracy", x,
    y: { label: "accuracy", format: percent },
    series: [{ label: "accuracy", color: color(2), width: 1.5, format: percent }],
  });
  const draw = () => {
    loss.setData([columns.lr, columns.loss, columns.smoothed_loss]);
    accuracy.setData([columns.lr, columns.accuracy]);
  };
  await followRun(run, {
    counter: loss.figure,
    onPoints(points) {
      for (const key of Object.keys(columns)) columns[key].push(...(points[key] ?? []));
      draw();
    },
    onEpoch() {},
    onStatus(current) {
      head.replaceChildren(h("h1", {}, `Range test ${title(current)} `, badge(current.status)));
      summary.replaceChildren(describe(current));
      const marks = suggestionMarks(current.result, current.request.suggestion);
      loss.setMarks(marks);
      accuracy.setMarks(marks);
      if (current.status === "succeeded" && current.result?.suggested_max_lr) {
        json("/policies").then(({ items }) => action.replaceChildren(trainForm(current, items)), showError);
      }
      document.body.dataset.runStatus = current.status;
    },
    onError: showError,
  });
}

function showError(error) {
  $("error").textContent = String(error.message);
  $("error").hidden = false;
}

/**
 * From the first point to where the smoothed loss climbs back above where it started (or the last suggestion, if
 * later), the loss axis fit to the points in it.
 */
export function informativeWindow([lrs, losses, smoothed], marks) {
  const finite = smoothed.map((value) => (value !== null && Number.isFinite(value) ? value : Infinity));
  const lowest = finite.reduce((best, value, i) => (value < finite[best] ? i : best), 0);
  if (finite[lowest] === Infinity) return null;
  const start = finite[0];
  let end = finite.findIndex((value, i) => i > lowest && value > start);
  if (end < 0) end = lrs.length - 1;
  const shown = finite.slice(0, end + 1).filter(Number.isFinite);
  const raw = losses.slice(0, end + 1).filter((v) => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  const quantile = (q) => raw[Math.min(raw.length - 1, Math.floor(q * raw.length))] ?? finite[lowest];
  // Loops, not Math.min(...values): a long sweep has more points than a call takes arguments.
  const low = shown.reduce((a, b) => Math.min(a, b), quantile(0.02));
  const high = shown.reduce((a, b) => Math.max(a, b), quantile(0.9));
  const pad = 0.06 * (high - low || 1);
  const right = marks.reduce((a, mark) => Math.max(a, mark.x), lrs[end]);
  return { x: [lrs[0], right * 1.3], y: [Math.max(0, low - pad), high + pad] };
}

/** A mark per rule that found a rate; the one that chose max LR drawn solid and bold. */
export function suggestionMarks(result, chosen) {
  return rulesOf(result).filter(({ rule }) => result.suggestions[rule]?.lr).map(({ rule, color }) => ({
    x: result.suggestions[rule].lr, label: `${rule} ${lr(result.suggestions[rule].lr)}`, color,
    strong: rule === chosen,
  }));
}

function describe(run) {
  const r = run.result ?? {};
  const request = run.request;
  const rules = rulesOf(r).map(({ rule, color }) => {
    const found = r.suggestions[rule];
    const name = h("span", { class: "rule" }, rule);
    name.style.color = color; // through the CSSOM: the page's CSP allows no style attributes
    return h("tr", { "data-rule": rule, class: rule === request.suggestion ? "chosen" : null },
      h("th", { scope: "row" }, name), h("td", {}, found?.lr ? lr(found.lr) : found?.reason ?? "–"));
  });
  return h("div", { class: "two-col" },
    facts({
      "model · data": modelOf(run),
      optimizer: `${request.optimizer?.name} (batch ${request.batch_size})`,
      sweep: `${lr(request.start_lr)} → ${lr(request.end_lr)}, ${request.step_mode}, smoothing ${request.smoothing}`,
      progress: progress(run),
      duration: duration(run),
      stop: r.stop_reason ?? "–",
      "lowest loss": r.min_loss ? `${number(r.min_loss)} at ${lr(r.lr_at_min_loss)}` : "–",
      error: run.error ? problem(run.error) : null,
    }),
    h("div", {},
      h("table", { id: "suggestions", class: "compact" },
        h("caption", {}, "Suggestions (rule used for max LR: ", request.suggestion, ")"),
        h("tbody", {}, rules,
          h("tr", {}, h("th", { scope: "row" }, "suggested max LR"), h("td", { id: "suggested-max" }, lr(r.suggested_max_lr))),
          h("tr", {}, h("th", { scope: "row" }, "suggested base LR"), h("td", { id: "suggested-base" }, lr(r.suggested_base_lr))))),
      r.warnings?.length ? h("ul", { id: "warnings", class: "warnings" }, r.warnings.map((text) => h("li", {}, text))) : null,
    ));
}

/**
 * A training run with the range test's model, data and optimizer and the suggested bounds, under one of the
 * `policies` GET /policies lists; the step size is asked only of a policy that reads it.
 */
function trainForm(run, policies) {
  const r = run.result;
  const field = (label, input) => h("label", {}, label, input);
  const policy = h("select", { name: "policy" }, policies.map(({ name }) => h("option", { value: name }, name)));
  const readsStepSize = () => "step_size_epochs" in
    (policies.find(({ name }) => name === policy.value)?.params.properties ?? {});
  const base = h("input", { name: "base_lr", type: "number", step: "any", min: "0", required: true, value: String(Number(r.suggested_base_lr.toPrecision(3))) });
  const max = h("input", { name: "max_lr", type: "number", step: "any", min: "0", required: true, value: String(Number(r.suggested_max_lr.toPrecision(3))) });
  const stepSize = h("input", { name: "step_size_epochs", type: "number", step: "any", min: "0", value: "2" });
  const epochs = h("input", { name: "epochs", type: "number", min: "1", step: "1", required: true, value: "8" });
  const name = h("input", { name: "name", value: `${title(run)} · clr` });
  const stepLabel = field("Step size (epochs) ", stepSize);
  policy.addEventListener("change", () => { stepLabel.hidden = !readsStepSize(); });
  const output = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { id: "train-form", class: "train-form" },
    h("h2", {}, "Train with these bounds"),
    h("div", { class: "fields" }, field("Policy ", policy), field("Base LR ", base), field("Max LR ", max), stepLabel,
      field("Epochs ", epochs), field("Name ", name)),
    h("button", { type: "submit" }, "Start training"), output);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const request = run.request;
    const schedule = { policy: policy.value, base_lr: Number(base.value), max_lr: Number(max.value), from_lr_find: run.id };
    if (readsStepSize() && stepSize.value) schedule.step_size_epochs = Number(stepSize.value);
    const body = {
      model: request.model, dataset: request.dataset, optimizer: request.optimizer, batch_size: request.batch_size,
      seed: request.seed, device: request.device, epochs: Number(epochs.value), schedule,
      name: name.value || undefined, tags: run.tags,
    };
    try {
      const created = await json("/train", { method: "POST", body });
      location.href = `/ui?${new URLSearchParams({ run: created.id })}`;
    } catch (error) {
      output.textContent = error.message;
    }
  });
  return form;
}
