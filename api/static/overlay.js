// Several runs' curves on one chart each: range tests by LR, training runs by step and epoch.
import { json } from "./api.js";
import { Chart, color, join, smooth } from "./charts.js";
import { badge, h, link, lr, modelOf, percent, recipeOf, resultOf, seriesLabel, title } from "./dom.js";
import { informativeWindow, suggestionMarks } from "./range.js";

export async function showOverlay(view, runIds) {
  const runs = await Promise.all(runIds.map(async (id) => {
    const path = `/runs/${encodeURIComponent(id)}`;
    const [run, curves] = await Promise.all([json(path), json(`${path}/curves?max_points=2000`)]);
    return { run, curves };
  }));
  const charts = h("div", { class: "charts" });
  view.append(h("section", { id: "overlay-view" },
    h("p", {}, h("a", { href: "/ui" }, "← all runs")), h("h1", {}, `${runs.length} runs overlaid`),
    h("div", { class: "table-wrap" }, legendTable(runs)), charts));
  const colored = runs.map((entry, k) => ({ ...entry, color: color(k) }));
  const ranges = colored.filter(({ run }) => run.kind === "lr_find");
  const trainings = colored.filter(({ run }) => run.kind === "train");
  if (ranges.length) {
    overlay(charts, "Smoothed loss against learning rate", "chart-overlay-range",
      { label: "learning rate", log: true, logToggle: true, format: lr }, { label: "loss", logToggle: true },
      ranges, ({ curves }) => [curves.lr, curves.smoothed_loss], false, informativeWindows(ranges));
  }
  if (trainings.length) {
    overlay(charts, "Validation accuracy per epoch", "chart-overlay-val", { label: "epoch", whole: true },
      { label: "accuracy", format: percent }, trainings,
      ({ curves }) => [curves.epochs.epoch.map((e) => e + 1), curves.epochs.val_accuracy], true);
    overlay(charts, "Loss per batch (smoothed 0.9)", "chart-overlay-loss", { label: "step" },
      { label: "loss", logToggle: true }, trainings, ({ curves }) => [curves.batch.step, smooth(curves.batch.loss, 0.9)]);
    overlay(charts, "Learning rate", "chart-overlay-lr", { label: "step" }, { label: "lr", format: lr, logToggle: true },
      trainings, ({ curves }) => [curves.batch.step, curves.batch.lr]);
  }
}

/** The range tests' informative windows together: each one's curve up to where it diverges. */
function informativeWindows(ranges) {
  const windows = ranges.map(({ run, curves }) => informativeWindow(
    [curves.lr, curves.loss, curves.smoothed_loss], suggestionMarks(run.result))).filter(Boolean);
  if (!windows.length) return null;
  const span = (axis, i, pick) => pick(...windows.map((window) => window[axis][i]));
  return () => ({
    x: [span("x", 0, Math.min), span("x", 1, Math.max)], y: [span("y", 0, Math.min), span("y", 1, Math.max)],
  });
}

function overlay(parent, name, id, x, y, entries, table, points = false, view = null) {
  const chart = new Chart(parent, {
    title: name, id, x, y, view,
    series: entries.map(({ run, color: stroke }) => ({ label: seriesLabel(run), color: stroke, width: 2, points, format: y.format })),
  });
  chart.setData(join(entries.map(table)));
  return chart;
}

function legendTable(runs) {
  return h("table", { id: "overlay-runs", class: "compact" },
    h("thead", {}, h("tr", {}, ["", "Run", "Kind", "Status", "Model · data", "Optimizer · policy", "Result"].map((n) => h("th", { scope: "col" }, n)))),
    h("tbody", {}, runs.map(({ run }, k) => {
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = color(k);
      return h("tr", { "data-run-id": run.id }, h("td", {}, swatch), h("td", {}, link(title(run), { run: run.id })),
        h("td", {}, run.kind), h("td", {}, badge(run.status)), h("td", {}, modelOf(run)), h("td", {}, recipeOf(run)),
        h("td", {}, resultOf(run)));
    })));
}
