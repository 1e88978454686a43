// A comparison's page: mean ± std bands per variant, the summary table and each child run.
import { json } from "./api.js";
import { Chart, color, join, translucent } from "./charts.js";
import { badge, facts, h, link, modelOf, percent, progress, resultOf, title } from "./dom.js";

const REFRESH_MS = 3000;
const METRICS = [
  ["val_accuracy", "Validation accuracy per epoch", "chart-val-accuracy"],
  ["train_accuracy", "Training accuracy per epoch", "chart-train-accuracy"],
];

export async function showComparison(view, comparisonId) {
  const path = `/comparisons/${encodeURIComponent(comparisonId)}`;
  const head = h("div", { class: "page-head" });
  const summary = h("div", { class: "summary" });
  const charts = h("div", { class: "charts" });
  const children = h("div", { class: "table-wrap" });
  view.append(h("section", { id: "comparison-view", "data-comparison-id": comparisonId },
    h("p", {}, h("a", { href: "/ui" }, "← all runs")), head, summary, charts, h("h2", {}, "Runs"), children));
  let drawn = null;
  async function refresh() {
    const [comparison, curves] = await Promise.all([json(path), json(`${path}/curves`)]);
    document.title = `${comparison.name || comparison.id} · clr-service`;
    head.replaceChildren(h("h1", {}, `Comparison ${comparison.name || comparison.id.slice(0, 12)} `,
      badge(comparison.status)));
    if (comparison.status === "running") head.append(cancelButton(path, refresh));
    // In the order the comparison names them: the curves come in the order their runs ended.
    const named = comparison.request.variants.map((variant) => variant.name);
    const found = Object.keys(curves.variants);
    const variants = [...named.filter((name) => found.includes(name)), ...found.filter((name) => !named.includes(name))];
    if (drawn?.key !== variants.join("\n")) {
      charts.replaceChildren();
      drawn = { key: variants.join("\n"), charts: METRICS.map(([metric, name, id]) => [metric, bandChart(charts, name, id, variants)]) };
    }
    for (const [metric, chart] of drawn.charts) chart.setData(bandData(curves, variants, metric));
    summary.replaceChildren(describe(comparison), summaryTable(curves, variants));
    children.replaceChildren(childTable(comparison));
    document.body.dataset.comparisonStatus = comparison.status;
    if (comparison.status === "running") setTimeout(refresh, REFRESH_MS);
  }
  await refresh();
}

function bandChart(parent, name, id, variants) {
  const series = variants.flatMap((variant, k) => {
    const stroke = color(k);
    return [
      { label: variant, color: stroke, width: 2, points: true, spread: 3 * k + 1, format: percent },
      { label: `${variant} + std`, color: translucent(stroke, 0.5), width: 0.5, legend: false, partOf: 3 * k },
      { label: `${variant} − std`, color: translucent(stroke, 0.5), width: 0.5, legend: false, partOf: 3 * k },
    ];
  });
  const bands = variants.map((_, k) => ({ series: [3 * k + 2, 3 * k + 3], fill: translucent(color(k)) }));
  return new Chart(parent, {
    title: name, id, x: { label: "epoch", whole: true }, y: { label: "accuracy", format: percent }, series, bands,
    note: "Line: mean over repeats; band: ± one standard deviation.",
  });
}

function bandData(curves, variants, metric) {
  const tables = variants.map((variant) => {
    const { epoch, mean, std } = curves.variants[variant];
    const m = mean[metric] ?? [];
    const s = std[metric] ?? [];
    const plus = m.map((value, i) => (value === null ? null : value + (s[i] ?? 0)));
    const minus = m.map((value, i) => (value === null ? null : value - (s[i] ?? 0)));
    return [epoch.map((e) => e + 1), m, plus, minus];
  });
  return tables.length ? join(tables) : [[]];
}

function describe(comparison) {
  const request = comparison.request;
  const first = comparison.children[0]?.run;
  return facts({
    "model · data": first ? modelOf(first) : `${request.model?.name} · ${request.dataset?.name}`,
    epochs: String(request.epochs),
    repeats: String(request.repeats),
    runs: Object.entries(comparison.counts).map(([status, n]) => `${n} ${status}`).join(", "),
    "bounds from range test": request.clr_bounds_from_lr_find ? "yes" : "no",
  });
}

function summaryTable(curves, variants) {
  const pm = (mean, std) => (mean === null ? "–" : `${percent(mean)}${std === null ? "" : ` ± ${percent(std)}`}`);
  return h("table", { id: "comparison-summary", class: "compact" },
    h("caption", {}, "Validation accuracy per variant (mean ± std over repeats)"),
    h("thead", {}, h("tr", {}, ["Variant", "Runs", "Best", "Final"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, variants.map((variant, k) => {
      const s = curves.summary[variant];
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = color(k);
      return h("tr", { "data-variant": variant }, h("th", { scope: "row" }, swatch, variant), h("td", {}, String(s.runs)),
        h("td", {}, pm(s.best_val_accuracy_mean, s.best_val_accuracy_std)),
        h("td", {}, pm(s.final_val_accuracy_mean, s.final_val_accuracy_std)));
    })));
}

function childTable(comparison) {
  return h("table", { id: "children" },
    h("thead", {}, h("tr", {}, ["Variant", "Repeat", "Run", "Status", "Progress", "Result"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, comparison.children.map(({ variant, repeat, run }) => h("tr", { "data-run-id": run.id },
      h("td", {}, variant), h("td", {}, String(repeat)), h("td", {}, link(title(run), { run: run.id }), h("small", { class: "id" }, run.id.slice(0, 8))),
      h("td", {}, badge(run.status)), h("td", {}, progress(run)), h("td", {}, resultOf(run))))));
}

function cancelButton(path, refresh) {
  const button = h("button", { type: "button", class: "danger" }, "Cancel comparison");
  button.addEventListener("click", async () => {
    button.disabled = true;
    await json(`${path}/cancel`, { method: "POST" });
    await refresh();
  });
  return h("div", { class: "actions" }, button);
}
