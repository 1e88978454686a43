// The runs list: filters, paging by the API's cursor, live status and progress, runs picked for an overlay.
import { json } from "./api.js";
import {
  badge, duration, h, link, modelOf, problem, progress, recipeOf, resultOf, title,
} from "./dom.js";

const REFRESH_MS = 2500;
// RunKind and RunStatus of store/models.py: no endpoint lists them (tests/api/test_ui.py keeps these equal).
const KINDS = ["", "lr_find", "train"];
const STATUSES = ["", "queued", "running", "cancelling", "lost", "succeeded", "failed", "cancelled"];
const PAGE_SIZES = ["5", "20", "50", "100"];
const SIZE_ITEM = "clr-page-size";
const COLUMNS = ["", "Run", "Kind", "Status", "Model · data", "Optimizer · policy", "Progress", "Duration",
  "Result"];

export async function showRuns(view, query) {
  const list = new RunList(view, query);
  await list.load();
  await showComparisons(view);
}

class RunList {
  constructor(view, query) {
    this.filter = { kind: query.get("kind") ?? "", status: query.get("status") ?? "", tag: query.get("tag") ?? "" };
    this.cursors = [null]; // the cursor of each page seen: Previous goes back one
    this.selected = new Set();
    this.rows = new Map(); // run id -> [updated_at, row]
    this.body = h("tbody");
    this.pageNote = h("span", { class: "page-note" });
    this.previous = h("button", { type: "button", onclick: () => this.turn(this.page - 1) }, "← Previous");
    this.next = h("button", { type: "button", onclick: () => this.turn(this.page + 1) }, "Next →");
    this.overlay = h("button", { type: "button", id: "overlay", disabled: true, onclick: () => this.openOverlay() },
      "Overlay selected");
    view.append(h("section", { id: "runs-view" },
      h("div", { class: "list-head" }, h("h1", {}, "Runs"), this.filters(), this.overlay),
      h("div", { class: "table-wrap" }, h("table", { id: "runs" },
        h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", { scope: "col" }, name)))), this.body)),
      h("nav", { class: "pager", "aria-label": "pages" }, this.previous, this.pageNote, this.next),
    ));
    setInterval(() => { if (!document.hidden) this.load(true); }, REFRESH_MS);
  }

  filters() {
    const select = (name, values, current, label) => h("label", {}, label, h("select", {
      name, onchange: (event) => this.refilter(name, event.target.value),
    }, values.map((value) => h("option", { value, selected: value === current }, value || "any"))));
    const tag = h("input", { name: "tag", value: this.filter.tag, placeholder: "any", size: "10" });
    const size = localStorage.getItem(SIZE_ITEM) ?? "20";
    return h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); this.refilter("tag", tag.value.trim()); } },
      select("kind", KINDS, this.filter.kind, "Kind "),
      select("status", STATUSES, this.filter.status, "Status "),
      h("label", {}, "Tag ", tag),
      h("button", { type: "submit" }, "Filter"),
      h("label", {}, "Per page ", h("select", {
        name: "limit", onchange: (event) => { localStorage.setItem(SIZE_ITEM, event.target.value); this.restart(); },
      }, PAGE_SIZES.map((value) => h("option", { value, selected: value === size }, value)))),
    );
  }

  refilter(name, value) {
    this.filter[name] = value;
    const query = new URLSearchParams(Object.entries(this.filter).filter(([, v]) => v));
    history.replaceState(null, "", `/ui${query.size ? `?${query}` : ""}`);
    this.restart();
  }

  restart() {
    this.cursors = [null];
    this.load();
  }

  turn(index) {
    if (index > this.page) this.cursors.push(this.nextCursor);
    else this.cursors.length = Math.max(1, index + 1);
    this.load();
  }

  get page() {
    return this.cursors.length - 1;
  }

  /** The current page, its rows rebuilt only where a run changed. */
  async load(refresh = false) {
    const query = new URLSearchParams({ limit: localStorage.getItem(SIZE_ITEM) ?? "20" });
    for (const [name, value] of Object.entries(this.filter)) if (value) query.set(name, value);
    const cursor = this.cursors[this.page];
    if (cursor) query.set("cursor", cursor);
    const page = await json(`/runs?${query}`);
    this.nextCursor = page.next_cursor;
    const rows = page.items.map((run) => {
      const known = this.rows.get(run.id);
      if (known && known[0] === run.updated_at) return known[1];
      const row = this.row(run);
      this.rows.set(run.id, [run.updated_at, row]);
      return row;
    });
    const current = [...this.body.rows];
    if (current.length === rows.length && current.every((row, i) => row.dataset.runId === rows[i].dataset.runId)) {
      current.forEach((row, i) => { if (row !== rows[i]) row.replaceWith(rows[i]); });
    } else {
      this.body.replaceChildren(...rows);
    }
    if (!rows.length) this.body.append(h("tr", {}, h("td", { colspan: String(COLUMNS.length) }, "No runs match.")));
    this.previous.disabled = this.page === 0;
    this.next.disabled = !this.nextCursor;
    this.pageNote.textContent = `page ${this.page + 1}`;
    document.body.dataset.runsLoaded = "true";
    if (!refresh) document.body.dataset.listVersion = String(Number(document.body.dataset.listVersion ?? 0) + 1);
  }

  row(run) {
    const box = h("input", {
      type: "checkbox", "aria-label": `select ${title(run)}`, checked: this.selected.has(run.id),
      onchange: (event) => {
        if (event.target.checked) this.selected.add(run.id); else this.selected.delete(run.id);
        this.overlay.disabled = this.selected.size === 0;
        this.overlay.textContent = `Overlay selected (${this.selected.size})`;
      },
    });
    const status = h("span", {}, badge(run.status), run.error ? problem(run.error) : null);
    const cells = [
      box,
      h("span", {}, link(title(run), { run: run.id }), created(run)),
      run.kind, status, modelOf(run), recipeOf(run), progress(run), duration(run), resultOf(run),
    ];
    return h("tr", { "data-run-id": run.id, "data-status": run.status }, cells.map((cell) => h("td", {}, cell)));
  }

  openOverlay() {
    location.href = `/ui?${new URLSearchParams({ overlay: [...this.selected].join(",") })}`;
  }
}

/** The start of the id and the creation time (the date too when not today; all of it on hover). */
function created(run) {
  const at = new Date(run.created_at);
  const today = at.toDateString() === new Date().toDateString();
  const when = today ? at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : at.toLocaleDateString([], { month: "short", day: "numeric" });
  return h("small", { class: "id", title: `${run.id}, created ${at.toLocaleString()}` }, `${run.id.slice(0, 8)} · ${when}`);
}

async function showComparisons(view) {
  const page = await json("/comparisons?limit=20");
  if (!page.items.length) return;
  const counts = (item) => Object.entries(item.counts).map(([status, n]) => `${n} ${status}`).join(", ");
  const variants = (item) => [...new Set(item.children.map((child) => child.variant))].join(", ");
  view.append(h("section", { id: "comparisons-view" }, h("h2", {}, "Comparisons"),
    h("ul", { id: "comparisons" }, page.items.map((item) => h("li", { "data-comparison-id": item.id },
      link(item.name || item.id.slice(0, 12), { comparison: item.id }), " ", badge(item.status),
      ` ${variants(item)} — ${counts(item)}`)))));
}
