// The public API, from the console's own origin, with the key its user entered. The key lives in this
// tab's sessionStorage only: never in a URL (which logs and Referer headers keep) or in localStorage.

const KEY = "flowport.apiKey";
// The API is where the console is, less /console/<file>: the stage (/dev) or base path included.
export const BASE = location.pathname.replace(/\/console(\/[^/]*)?$/, "");

export const LIVE = new Set(["QUEUED", "RUNNING"]);
export const STATUSES = ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED"];
export const CONFLICT_STRATEGIES = ["RETURN_EXISTING", "FAIL", "FAIL_ON_RUNNING"];

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  forget: () => sessionStorage.removeItem(KEY),
};

/** An answer that is not a success: its problem document (RFC 9457) when it has one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function headers(extra) {
  const all = new Headers(extra || {});
  const secret = key.get();
  if (secret) all.set("X-API-Key", secret);
  return all;
}

/** A call of the API: its JSON answer, or an ApiError. */
export async function call(method, path, { body, contentType, headers: extra, signal } = {}) {
  const sent = headers(extra);
  if (body !== undefined) sent.set("Content-Type", contentType || "application/json");
  const response = await fetch(BASE + path, {
    method,
    headers: sent,
    body: body === undefined ? undefined : contentType ? body : JSON.stringify(body),
    signal,
    credentials: "omit",
    redirect: "error",
  });
  const text = await response.text();
  let document = null;
  try {
    document = text ? JSON.parse(text) : null;
  } catch {
    document = { title: "Unreadable answer", detail: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, document || { title: `HTTP ${response.status}` });
  return document;
}

export const get = (path, options) => call("GET", path, options);

export function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// Answers after which a stream is asked for again, later: throttling, a timeout, the server's trouble.
const TRANSIENT = new Set([408, 429]);
const MAX_PAUSE_MILLISECONDS = 30000;

/**
 * Follow an execution's Server-Sent Events until its final event, or until `signal` aborts. Read with
 * fetch rather than EventSource, which cannot send the key; reconnects with Last-Event-ID, as
 * EventSource would, after the `retry` the stream asks for (longer after each failure in a row). An
 * error of `onEvent`, or a refusal of the request (4xx), ends it with that error.
 */
export async function follow(executionId, onEvent, signal) {
  const position = { lastEventId: null, retry: 1000 };
  let failures = 0;
  while (!signal.aborted) {
    const sent = headers({ Accept: "text/event-stream" });
    if (position.lastEventId) sent.set("Last-Event-ID", position.lastEventId);
    try {
      const response = await fetch(`${BASE}/executions/${encodeURIComponent(executionId)}/events`, {
        headers: sent,
        signal,
        credentials: "omit",
        redirect: "error",
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        if (response.status < 500 && !TRANSIENT.has(response.status))
          throw new ApiError(response.status, problem);
        failures += 1;
      } else if (response.status === 204) {
        return; // the stream had ended: nothing follows
      } else {
        for await (const { kind, data } of readEvents(response.body, position)) {
          failures = 0;
          if (onEvent(kind, data) === "final") return;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (!(error instanceof TypeError)) throw error; // fetch's network failures are TypeErrors
      failures += 1;
    }
    await pause(Math.min(position.retry * 2 ** failures, MAX_PAUSE_MILLISECONDS), signal);
  }
}

/** The events of one response, as {kind, data}; `position` keeps the last event id and retry. */
async function* readEvents(body, position) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    // Lines end in CR LF, CR or LF; a CR at the end may be the first half of a CR LF, so it waits.
    buffer += value;
    const held = buffer.endsWith("\r") ? "\r" : "";
    buffer = buffer.slice(0, buffer.length - held.length).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, end), position);
      buffer = buffer.slice(end + 2);
      if (event) yield event;
    }
    buffer += held;
  }
}

function parseEvent(block, position) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    if (colon === 0) continue; // a comment (keep-alive)
    const field = colon < 0 ? line : line.slice(0, colon);
    const content = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") kind = content;
    else if (field === "data") data.push(content);
    else if (field === "id") position.lastEventId = content;
    else if (field === "retry" && /^\d+$/.test(content)) position.retry = Number(content);
  }
  return data.length ? { kind, data: JSON.parse(data.join("\n")) } : null;
}

/** Resolves after `milliseconds`, or at once when `signal` aborts. */
export function pause(milliseconds, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, milliseconds);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** What the caller's scopes (GET /me) allow: the console offers nothing else. */
export function allows(caller, action, workflow) {
  if (!caller) return false;
  const { actions, workflows } = caller.scopes;
  return (
    actions.includes(action) &&
    (workflow === undefined || workflows.includes("*") || workflows.includes(workflow))
  );
}
