// Small DOM and formatting helpers shared by the pages.
export const $ = (id) => document.getElementById(id);

/** An element with attributes (on* keys become listeners) and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== undefined && child !== null));
  return node;
}

export function link(text, query) {
  return h("a", { href: `/ui?${new URLSearchParams(query)}` }, text);
}

export function badge(status) {
  return h("span", { class: `status ${status}` }, status);
}

export function lr(value) {
  return value === null || value === undefined ? "–" : Number(value).toExponential(2);
}

export function number(value, digits = 4) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (value === 0) return "0";
  return Math.abs(value) >= 1e-3 && Math.abs(value) < 1e5 ? Number(value.toPrecision(digits)).toString()
    : value.toExponential(2);
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)} %`;
}

export function duration(run) {
  if (!run.started_at) return "–";
  const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
  const seconds = Math.max(0, Math.round((end - Date.parse(run.started_at)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** A run's name, or the start of its id when it has none. */
export function title(run) {
  return run.name || run.id.slice(0, 12);
}

/** A run as a chart's legend names it: a comparison's children by their variant and repeat too. */
export function seriesLabel(run) {
  return run.variant ? `${title(run)} · ${run.variant} #${run.repeat}` : title(run);
}

export function modelOf(run) {
  return `${run.request.model?.name ?? "?"} · ${run.request.dataset?.name ?? "?"}`;
}

/** Optimizer and policy, or the comparison variant and repeat. */
export function recipeOf(run) {
  if (run.variant) return `${run.variant} #${run.repeat}`;
  const optimizer = run.request.optimizer?.name ?? "sgd";
  return run.kind === "train" ? `${optimizer} · ${run.request.schedule?.policy ?? "constant"}` : optimizer;
}

export function resultOf(run) {
  const r = run.result;
  if (!r) return "";
  if (run.kind === "lr_find") return r.suggested_max_lr ? `max LR ${lr(r.suggested_max_lr)}` : "no suggestion";
  return r.best_val_accuracy === null ? "" : `best val ${percent(r.best_val_accuracy)}`;
}

/** A progress bar with steps done; a failed or cancelled run shows how far it got, not a full or moving bar. */
export function progress(run) {
  const p = run.progress;
  const bar = h("progress", { max: "1", "aria-label": "progress" });
  if (p.fraction !== null) bar.value = p.fraction;
  else if (run.status === "succeeded") bar.value = 1;
  else if (run.status !== "running") bar.value = 0; // indeterminate (moving) only while it runs
  const steps = p.total_steps ? `${p.step} / ${p.total_steps}` : p.step ? `${p.step}` : "";
  return h("span", { class: "progress" }, bar, h("span", { class: "steps" }, steps));
}

/** A failed run's problem: its code, the detail on demand. */
export function problem(error) {
  return h("details", { class: "problem" }, h("summary", {}, error.code), h("p", {}, error.detail ?? ""));
}

export function facts(entries) {
  return h("dl", { class: "facts" }, Object.entries(entries).flatMap(([name, value]) => [
    h("dt", {}, name), h("dd", {}, value ?? "–"),
  ]));
}

/** Save a file fetched with the key: a plain link could not send the Authorization header. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const anchor = h("a", { href: url, download: filename });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
