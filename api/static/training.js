// A training run's page: LR and per-batch loss, per-epoch loss and accuracy, live while it runs; cancel, weights.
import { call, json } from "./api.js";
import { Chart, color, smooth } from "./charts.js";
import {
  $, badge, duration, facts, h, link, lr, modelOf, percent, problem, progress, recipeOf, saveBlob, title,
} from "./dom.js";
import { followRun } from "./live.js";

const EPOCH_METRICS = ["train_loss", "val_loss", "train_accuracy", "val_accuracy"];

export async function showTraining(view, run) {
  const batch = { step: [], lr: [], loss: [] };
  const epochs = Object.fromEntries(["epoch", ...EPOCH_METRICS].map((key) => [key, []]));
  let weight = 0.9;
  const head = h("div", { class: "page-head" });
  const summary = h("div", { class: "summary" });
  const charts = h("div", { class: "charts" });
  view.append(h("section", { id: "training-view", "data-run-id": run.id },
    h("p", {}, h("a", { href: "/ui" }, "← all runs")), head, summary, charts));
  const slider = h("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: String(weight), "aria-label": "smoothing" });
  const shown = h("output", {}, String(weight));
  slider.addEventListener("input", () => {
    weight = Number(slider.value);
    shown.textContent = slider.value;
    drawBatches();
  });
  const step = { label: "step" };
  const loss = new Chart(charts, {
    title: "Loss per batch", id: "chart-batch-loss", x: step, y: { label: "loss", logToggle: true },
    series: [{ label: "loss", color: "#9aa3b0", width: 1 }, { label: "smoothed", color: color(0), width: 2 }],
    controls: [h("label", { class: "check" }, "smoothing ", slider, shown)],
  });
  const rate = new Chart(charts, {
    title: "Learning rate", id: "chart-lr", x: step, y: { label: "lr", format: lr, logToggle: true },
    series: [{ label: "lr", color: color(1), width: 1.5, format: lr }],
  });
  const epochX = { label: "epoch", whole: true };
  const epochLoss = new Chart(charts, {
    title: "Loss per epoch", id: "chart-epoch-loss", x: epochX, y: { label: "loss", logToggle: true },
    series: [
      { label: "train loss", color: color(0), width: 2, points: true },
      { label: "val loss", color: color(1), width: 2, points: true },
    ],
  });
  const epochAccuracy = new Chart(charts, {
    title: "Accuracy per epoch", id: "chart-epoch-accuracy", x: epochX, y: { label: "accuracy", format: percent },
    series: [
      { label: "train accuracy", color: color(0), width: 2, points: true, format: percent },
      { label: "val accuracy", color: color(1), width: 2, points: true, format: percent },
    ],
  });
  function drawBatches() {
    loss.setData([batch.step, batch.loss, smooth(batch.loss, weight)]);
    rate.setData([batch.step, batch.lr]);
  }
  function drawEpochs() {
    const x = epochs.epoch.map((epoch) => epoch + 1);
    epochLoss.setData([x, epochs.train_loss, epochs.val_loss]);
    epochAccuracy.setData([x, epochs.train_accuracy, epochs.val_accuracy]);
  }
  await followRun(run, {
    counter: loss.figure,
    onPoints(points) {
      for (const key of Object.keys(batch)) batch[key].push(...points[key]);
      drawBatches();
    },
    onEpoch(row) {
      for (const key of Object.keys(epochs)) epochs[key].push(row[key]);
      drawEpochs();
    },
    onStatus(current) {
      head.replaceChildren(h("h1", {}, `Training ${title(current)} `, badge(current.status)), actions(current));
      summary.replaceChildren(describe(current));
      document.body.dataset.runStatus = current.status;
    },
    onError: (error) => { $("error").textContent = String(error.message); $("error").hidden = false; },
  });
}

function describe(run) {
  const request = run.request;
  const schedule = request.schedule ?? {};
  const source = schedule.from_lr_find;
  const r = run.result ?? {};
  return facts({
    "model · data": modelOf(run),
    "optimizer · policy": recipeOf(run),
    bounds: schedule.policy === "constant" ? lr(schedule.base_lr ?? request.optimizer?.lr)
      : `${lr(schedule.base_lr)} → ${lr(schedule.max_lr)}`,
    "bounds from": source ? link(`range test ${source.slice(0, 12)}`, { run: source }) : null,
    comparison: run.comparison_id ? link(`${run.variant} #${run.repeat}`, { comparison: run.comparison_id }) : null,
    epochs: `${r.epochs_completed ?? run.progress.epoch ?? 0} of ${request.epochs}, batch ${request.batch_size}`,
    progress: progress(run),
    duration: duration(run),
    "best val accuracy": percent(r.best_val_accuracy),
    error: run.error ? problem(run.error) : null,
  });
}

function actions(run) {
  const path = `/runs/${encodeURIComponent(run.id)}`;
  const note = h("span", { class: "action-note", role: "status" });
  const bar = h("div", { class: "actions" });
  if (!run.is_terminal) {
    const cancel = h("button", { type: "button", id: "cancel", class: "danger", disabled: run.status === "cancelling" },
      run.status === "cancelling" ? "Cancelling…" : "Cancel run");
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        await json(`${path}/cancel`, { method: "POST" });
        cancel.textContent = "Cancelling…";
      } catch (error) {
        note.textContent = error.message;
        cancel.disabled = false;
      }
    });
    bar.append(cancel);
  } else {
    const download = h("button", { type: "button", id: "download" }, "Download weights (model.pt)");
    download.addEventListener("click", async () => {
      const answer = await call(`${path}/artifacts/model.pt`);
      if (!answer.ok) {
        note.textContent = (await answer.json()).detail;
        return;
      }
      saveBlob(await answer.blob(), `${run.id}-model.pt`);
    });
    bar.append(download);
  }
  bar.append(note);
  return bar;
}
