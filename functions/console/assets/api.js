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

/**
 * Follow an execution's Server-Sent Events until its final event, or until `signal` aborts. Read with
 * fetch rather than EventSource, which cannot send the key; reconnects with Last-Event-ID, as
 * EventSource would, after the `retry` the stream asks for.
 */
export async function follow(executionId, onEvent, signal) {
  let lastEventId = null;
  let retry = 1000;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const sent = headers({ Accept: "text/event-stream" });
      if (lastEventId) sent.set("Last-Event-ID", lastEventId);
      const response = await fetch(`${BASE}/executions/${encodeURIComponent(executionId)}/events`, {
        headers: sent,
        signal,
        credentials: "omit",
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new ApiError(response.status, problem);
      }
      if (response.status === 204) return; // the stream had ended: nothing follows
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = { event: "message", data: [] };
          for (const line of block.split("\n")) {
            const colon = line.indexOf(":");
            if (colon === 0) continue; // a comment (keep-alive)
            const field = colon < 0 ? line : line.slice(0, colon);
            const content = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") event.event = content;
            else if (field === "data") event.data.push(content);
            else if (field === "id") lastEventId = content;
            else if (field === "retry" && /^\d+$/.test(content)) retry = Number(content);
          }
          if (event.data.length) {
            failures = 0;
            if (onEvent(event.event, JSON.parse(event.data.join("\n"))) === "final") return;
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) throw error;
      failures += 1;
    }
    await pause(Math.min(retry * 2 ** failures, 30000), signal);
  }
}

export function pause(milliseconds, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, milliseconds);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
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
