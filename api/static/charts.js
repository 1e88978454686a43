// Interactive charts on uPlot (vendored): drag to zoom, hover values in the legend, log/linear axes.
import { h, number } from "./dom.js";

const uPlot = window.uPlot;
const HEIGHT = 280;
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]; // tick steps of an axis of whole numbers (epochs)
// Okabe–Ito: told apart with the common colour-vision deficiencies, readable on white.
export const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];

export function color(index) {
  return COLORS[index % COLORS.length];
}

export function translucent(hex, alpha = 0.18) {
  const value = parseInt(hex.slice(1), 16);
  return `rgba(${value >> 16}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`;
}

/**
 * One chart in a figure with a toolbar (log toggles, reset, extra controls) and a live legend.
 * `series`: [{label, color, width, dash, legend: false, spread: index of its upper band series}].
 * `view(data, marks)`: the initial window {x: [min, max], y: [min, max]} (either optional), kept until the user zooms.
 */
export class Chart {
  constructor(parent, { title, id, x, y, series, bands = [], view = null, controls = [], note = "" }) {
    this.options = { x, y, series, bands, view };
    this.data = [[], ...series.map(() => [])];
    this.marks = [];
    this.zoomed = false;
    this.plotBox = h("div", { class: "plot" });
    this.legend = h("div", { class: "legend", "aria-live": "off" });
    const toolbar = h("div", { class: "toolbar" }, ...controls);
    if (x.logToggle) toolbar.append(this.toggle("log x", "logX", x.log));
    if (y.logToggle) toolbar.append(this.toggle("log y", "logY", y.log));
    toolbar.append(h("button", { type: "button", onclick: () => this.resetZoom() }, "Reset zoom"));
    if (view) toolbar.append(h("button", { type: "button", onclick: () => this.showAll() }, "Show all"));
    this.figure = h(
      "figure", { class: "chart", id, "data-points": "0", "data-bands": String(bands.length) },
      h("div", { class: "chart-head" }, h("h2", {}, title), toolbar),
      this.plotBox, this.legend, note ? h("figcaption", {}, note) : null,
    );
    this.log = { logX: Boolean(x.log), logY: Boolean(y.log) };
    parent.append(this.figure);
    this.build();
    new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT })).observe(this.plotBox);
  }

  toggle(text, key, checked) {
    const input = h("input", { type: "checkbox", checked });
    input.addEventListener("change", () => {
      this.log[key] = input.checked;
      this.build();
    });
    return h("label", { class: "check" }, input, text);
  }

  width() {
    return Math.max(280, this.plotBox.clientWidth || 600);
  }

  build() {
    const { x, y, series, bands } = this.options;
    Object.assign(this.figure.dataset, { logX: this.log.logX, logY: this.log.logY });
    this.plot?.destroy();
    // A log axis keeps its decades when it spans several: the ticks between them only crowd it.
    const decades = (u, splits) => (splits.filter(isDecade).length > 2 ? splits.map((v) => (isDecade(v) ? v : null)) : splits);
    const only = (log) => (log ? { filter: decades } : {});
    const axis = (label, format, log) => ({
      label, stroke: "#3a4150",
      grid: { stroke: "#e3e6eb", ...only(log) },
      ticks: { stroke: "#c9ced6", ...only(log) },
      ...only(log),
      values: (u, ticks) => ticks.map((tick) => (tick === null ? "" : log && isDecade(tick) ? decade(tick)
        : (format ?? number)(tick))),
    });
    const opts = {
      width: this.width(),
      height: HEIGHT,
      scales: {
        x: { time: false, ...scale(this.log.logX) },
        y: scale(this.log.logY),
      },
      axes: [
        { ...axis(x.label, x.format, this.log.logX), ...(x.whole ? { incrs: WHOLE } : {}) },
        { ...axis(y.label, y.format, this.log.logY), size: 64 },
      ],
      series: [{ label: x.label }, ...series.map((s) => ({
        label: s.label, stroke: s.color, width: s.width ?? 1.5, dash: s.dash, spanGaps: true,
        points: { show: s.points ?? false, size: 5, fill: s.color },
      }))],
      bands,
      legend: { show: false },
      // Double-click goes back to the chart's own window (resetZoom), not to uPlot's fit of every point.
      cursor: { drag: { x: true, y: true, uni: 40 }, bind: { dblclick: () => () => null } },
      hooks: {
        setCursor: [(u) => this.showValues(u.cursor.idx)],
        setSelect: [(u) => { if (u.select.width > 0 || u.select.height > 0) this.zoomed = true; }],
        draw: [(u) => this.drawMarks(u)],
        setScale: [(u, key) => {
          if (key === "x") Object.assign(this.figure.dataset, { xMin: u.scales.x.min, xMax: u.scales.x.max });
        }],
      },
    };
    this.plot = new uPlot(opts, this.data, this.plotBox);
    this.plot.over.addEventListener("dblclick", () => this.resetZoom());
    this.applyView();
    this.showValues(null);
  }

  /** Replace the columns [x, ...one per series]; the window follows the data until the user zooms. */
  setData(data) {
    this.data = data;
    this.figure.dataset.points = String(data[0].length);
    this.plot.setData(data, !this.zoomed);
    if (!this.zoomed) this.applyView();
    this.showValues(this.plot.cursor.idx);
  }

  /** Vertical lines at x values: [{x, label, color, strong}] (strong: solid and bold, the one that counts). */
  setMarks(marks) {
    this.marks = marks;
    this.figure.dataset.marks = String(marks.length);
    if (!this.zoomed) this.applyView();
    this.plot.redraw(false);
  }

  applyView() {
    const window = this.options.view && this.data[0].length ? this.options.view(this.data, this.marks) : null;
    if (!window) return;
    this.figure.dataset.window = JSON.stringify(window);
    this.plot.batch(() => {
      if (window.x) this.plot.setScale("x", { min: window.x[0], max: window.x[1] });
      if (window.y) this.plot.setScale("y", { min: window.y[0], max: window.y[1] });
    });
  }

  resetZoom() {
    this.zoomed = false;
    this.plot.setData(this.data, true);
    this.applyView();
  }

  showAll() {
    this.zoomed = true;
    this.plot.setData(this.data, true);
  }

  drawMarks(u) {
    const ratio = window.devicePixelRatio || 1;
    const { left, top, width, height } = u.bbox;
    const ctx = u.ctx;
    this.marks.forEach((mark, index) => {
      const px = u.valToPos(mark.x, "x", true);
      if (!(px >= left && px <= left + width)) return;
      ctx.save();
      ctx.strokeStyle = ctx.fillStyle = mark.color;
      ctx.lineWidth = (mark.strong ? 3 : 1.5) * ratio;
      ctx.setLineDash(mark.strong ? [] : [6 * ratio, 4 * ratio]);
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + height);
      ctx.stroke();
      ctx.font = `${mark.strong ? "bold " : ""}${12 * ratio}px system-ui, sans-serif`;
      const text = mark.label;
      const right = px + ctx.measureText(text).width + 8 * ratio > left + width;
      ctx.textAlign = right ? "right" : "left";
      ctx.fillText(text, px + (right ? -4 : 4) * ratio, top + (14 + 15 * index) * ratio);
      ctx.restore();
    });
  }

  /** The legend: each series' value under the cursor (mean ± std for a band), click to hide or show. */
  showValues(index) {
    const { x, series } = this.options;
    const at = index === null || index === undefined ? null : index;
    const xText = at === null ? "" : `${x.label} ${(x.format ?? number)(this.data[0][at])}`;
    const entries = series.map((s, i) => {
      if (s.legend === false) return null;
      const value = at === null ? null : this.data[i + 1][at];
      let text = value === null || value === undefined ? "" : (s.format ?? number)(value);
      if (text && s.spread !== undefined) {
        const upper = this.data[s.spread + 1][at];
        if (upper !== null && upper !== undefined) text += ` ± ${(s.format ?? number)(upper - value)}`;
      }
      const shown = this.plot.series[i + 1].show;
      return h(
        "button",
        { type: "button", class: "entry", "aria-pressed": String(shown), onclick: () => this.flip(i + 1) },
        h("span", { class: "swatch", "data-color": s.color }), `${s.label} `, h("span", { class: "value" }, text),
      );
    });
    this.legend.replaceChildren(h("span", { class: "x-value" }, xText), ...entries.filter(Boolean));
    for (const swatch of this.legend.querySelectorAll(".swatch")) swatch.style.background = swatch.dataset.color;
  }

  flip(index) {
    const show = !this.plot.series[index].show;
    const linked = this.options.series.flatMap((s, i) => (s.partOf === index - 1 ? [i + 1] : []));
    for (const i of [index, ...linked]) this.plot.setSeries(i, { show });
    this.showValues(this.plot.cursor.idx);
  }
}

/** A log scale keeps the range it is given (uPlot would widen it to whole decades); a linear one is padded. */
function scale(log) {
  return log ? { distr: 3, log: 10, range: (u, min, max) => [min, max] } : { distr: 1 };
}

function isDecade(value) {
  const power = Math.log10(value);
  return Math.abs(power - Math.round(power)) < 1e-9;
}

function decade(value) {
  const power = Math.round(Math.log10(value));
  return Math.abs(power) < 3 ? number(value) : `1e${power}`;
}

/** Exponential moving average with bias correction, as the range test smooths its loss. */
export function smooth(values, weight) {
  let average = 0;
  let seen = 0;
  return values.map((value) => {
    if (value === null || !Number.isFinite(value)) return null;
    seen += 1;
    average = weight * average + (1 - weight) * value;
    return average / (1 - weight ** seen);
  });
}

export const join = (tables) => uPlot.join(tables);
