// Calls to the API with the key kept in this browser, and a run's event stream read with that key.
const KEY_ITEM = "clr-api-key";
const RETRY_MS = [1000, 2000, 4000, 8000, 15000];

export class Unauthorized extends Error {}

export function storedKey() {
  return localStorage.getItem(KEY_ITEM);
}

export function storeKey(key) {
  localStorage.setItem(KEY_ITEM, key);
}

export function forgetKey() {
  localStorage.removeItem(KEY_ITEM);
}

export function takeKeyFromFragment() {
  // A link like /ui#key=... hands the page a key without typing; it is removed from the address at once.
  // A stored key is replaced only when the user agrees: a link from someone else must not swap it silently.
  const match = location.hash.match(/(?:^#|&)key=([^&]+)/);
  if (!match) return;
  const offered = decodeURIComponent(match[1]);
  const stored = storedKey();
  if (!stored || stored === offered ||
      confirm("This link carries another API key. Replace the key stored in this browser with it?")) {
    storeKey(offered);
  }
  history.replaceState(null, "", location.pathname + location.search);
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${storedKey()}`, ...extra };
}

/** The answer to `path`; throws Unauthorized (and forgets the key) on 401. */
export async function call(path, { method = "GET", body, signal, extraHeaders } = {}) {
  const init = { method, signal, headers: headers(extraHeaders) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const answer = await fetch(path, init);
  if (answer.status === 401) {
    forgetKey();
    throw new Unauthorized("The API key is unknown or revoked.");
  }
  return answer;
}

/** The JSON body of a successful answer; an Error carrying the problem's code and detail otherwise. */
export async function json(path, options) {
  const answer = await call(path, options);
  const body = await answer.json().catch(() => null);
  if (!answer.ok) {
    const error = new Error(body?.detail || `HTTP ${answer.status} for ${path}`);
    error.code = body?.code;
    error.status = answer.status;
    throw error;
  }
  return body;
}

/**
 * Follow a server-sent event stream with the key in a header, which EventSource cannot send (a key in the
 * URL would end up in logs and history). Reconnects with Last-Event-ID until `isDone()` after an event.
 * Returns a function that stops following.
 */
export function followEvents(path, { onEvent, isDone, onError }) {
  let lastId = null;
  let stopped = false;
  let failures = 0;
  let controller = null;

  async function readOnce() {
    controller = new AbortController();
    const extra = lastId === null ? {} : { "Last-Event-ID": lastId };
    const answer = await call(path, { signal: controller.signal, extraHeaders: extra });
    if (!answer.ok) throw new Error(`event stream: HTTP ${answer.status}`);
    const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new EventParser((event) => {
      failures = 0;
      if (event.id !== undefined) lastId = event.id;
      onEvent(event);
    });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await readOnce();
      } catch (error) {
        if (stopped || error instanceof Unauthorized) {
          if (!stopped) onError(error);
          return;
        }
        onError(error);
      }
      if (stopped || isDone()) return;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]));
      failures += 1;
    }
  })();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

/** The text/event-stream format, fed in pieces of any size. */
class EventParser {
  constructor(dispatch) {
    this.dispatch = dispatch;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.event = { type: "message", data: [] };
  }

  push(text) {
    this.buffer += text;
    // A chunk may end between the \r and \n of one line break: keep a trailing \r for the next chunk.
    const lines = this.buffer.split(/\r\n|\r(?!$)|\n/);
    this.buffer = lines.pop();
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      if (this.event.data.length) {
        const { type, data, id } = this.event;
        this.dispatch({ type, id, data: data.join("\n") });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) return; // a keep-alive comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") this.event.type = value;
    else if (field === "data") this.event.data.push(value);
    else if (field === "id") this.event.id = value;
  }
}
