// The flowport console: workflows, their graphs and "try it" forms, the execution search, and each
// execution live. A single page routed by the URL's fragment (#/workflows, #/executions/<id>), on the
// public API only (api.js).

import {
  ApiError,
  CONFLICT_STRATEGIES,
  LIVE,
  STATUSES,
  allows,
  call,
  follow,
  get,
  key,
  pause,
  query,
} from "./api.js";
import { duration, h, pretty, seconds, show, table, when } from "./dom.js";
import { FieldError, inputForm } from "./form.js";
import { STATE_MARKS, draw, layout, paint } from "./graph.js";
import { applyNodeEvent, fromHistory } from "./runs.js";

const view = document.getElementById("view");
const session = document.getElementById("session");
const REFRESH_MILLISECONDS = 3000;
const HISTORY_PAGES = 20;
// What a retry takes (flowport.core.retry): a rerun takes any that has ended.
const RETRYABLE = new Set(["FAILED", "TIMED_OUT", "CANCELLED"]);

let shown = null; // the AbortController of the view on screen: leaving it stops its requests and timers
let caller = null; // GET /me

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

function parseHash() {
  const [path, search] = location.hash.replace(/^#/, "").split("?");
  return {
    parts: path.split("/").filter(Boolean).map(decodeURIComponent),
    params: new URLSearchParams(search || ""),
  };
}

async function route() {
  shown?.abort();
  shown = new AbortController();
  const { signal } = shown;
  try {
    if (!key.get()) return signIn();
    const { parts, params } = parseHash(); // a malformed %-escape throws: shown below
    if (!caller) caller = await get("/me", { signal });
    showSession();
    markNavigation(parts[0] || "workflows");
    if (!allows(caller, "read")) return readless();
    if (parts[0] === "workflows" && parts[1]) await workflowView(parts[1], params, signal);
    else if (parts[0] === "executions" && parts[1]) await executionView(parts[1], signal, arrived);
    else if (parts[0] === "executions") await executionsView(params, signal, arrived);
    else await workflowsView(signal);
    arrived(signal);
  } catch (error) {
    if (signal.aborted) return;
    if (error instanceof ApiError && (error.status === 401 || (error.status === 403 && !caller))) {
      key.forget();
      caller = null;
      return signIn(
        error.status === 401
          ? "That key was refused (401): it is unknown, revoked or expired."
          : "That key may do nothing the console can show (403).",
      );
    }
    show(view, h("h1", {}, "Something went wrong"), problemText(error));
    arrived(signal);
  }
}

const arrivals = new WeakSet(); // the routes whose page has taken the focus

/** A new page is on screen: focus moves to it, as it would on a page load (once per route). */
function arrived(signal) {
  if (signal.aborted || arrivals.has(signal)) return;
  arrivals.add(signal);
  view.focus({ preventScroll: true });
}

function markNavigation(section) {
  for (const link of document.querySelectorAll(".top nav a")) {
    if (link.getAttribute("href") === `#/${section}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

/** A key without the read action (one that may only start): the console has nothing to show it. */
function readless() {
  title("Nothing to show");
  show(
    view,
    h("h1", {}, "Nothing to show"),
    h(
      "p",
      {},
      `${caller.name} may ${caller.scopes.actions.join(", ")} but not read: the console needs a key with `,
      "the read action. Forget this key to use another.",
    ),
  );
}

function title(text) {
  document.title = `${text} · flowport`;
}

function problemText(error) {
  if (!(error instanceof ApiError))
    return h("p", { class: "problem", role: "alert" }, String(error.message || error));
  const { title: heading, detail, code } = error.problem;
  return h(
    "p",
    { class: "problem", role: "alert" },
    h("strong", {}, heading || `HTTP ${error.status}`),
    detail ? `: ${detail}` : "",
    code ? h("span", { class: "code" }, ` (${code})`) : "",
  );
}

function statusBadge(status) {
  return h("span", { class: `status status-${status.toLowerCase()}` }, status.replace("_", " "));
}

// -- signing in -------------------------------------------------------------------------------------

function signIn(message) {
  title("Sign in");
  showSession();
  const input = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "key-help key-error",
  });
  const error = h("p", { id: "key-error", class: "field-error", role: "alert" }, message || "");
  const form = h(
    "form",
    { class: "sign-in", novalidate: true },
    h("label", { for: "api-key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Use this key"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) {
      error.textContent = "Enter a key.";
      return;
    }
    key.set(value);
    try {
      caller = await get("/me");
      route();
    } catch (refused) {
      key.forget();
      error.textContent =
        refused instanceof ApiError
          ? `${refused.problem.title || "Refused"}: ${refused.problem.detail || refused.status}`
          : String(refused);
      input.focus();
    }
  });
  show(
    view,
    h("h1", {}, "Sign in"),
    h(
      "p",
      { id: "key-help" },
      "The console calls the flowport API with your API key. It is kept in this browser tab only (sessionStorage), and sent in the X-API-Key header.",
    ),
    form,
    h(
      "p",
      { class: "help" },
      "Running locally? ",
      h("code", {}, "make dev"),
      " prints the development admin key; it is also in ",
      h("code", {}, ".flowport/dev-admin-key"),
      ".",
    ),
  );
  input.focus();
}

function showSession() {
  if (!caller) return show(session);
  const forget = h("button", { type: "button", class: "link" }, "Forget key");
  forget.addEventListener("click", () => {
    key.forget();
    caller = null;
    route();
  });
  show(session, h("span", {}, "Signed in as ", h("strong", {}, caller.name)), " ", forget);
}

// -- workflows --------------------------------------------------------------------------------------

async function workflowsView(signal) {
  title("Workflows");
  const { workflows } = await get("/workflows", { signal });
  const rows = workflows.map((workflow) =>
    h(
      "tr",
      {},
      h(
        "th",
        { scope: "row" },
        h("a", { href: `#/workflows/${encodeURIComponent(workflow.name)}` }, workflow.name),
      ),
      h("td", {}, workflow.description),
      h("td", {}, workflow.enabled ? "enabled" : h("span", { class: "muted" }, "disabled")),
      h("td", {}, workflow.versions.join(", ")),
      h("td", {}, workflow.auth.join(", ")),
      h("td", {}, limitOf(workflow)),
    ),
  );
  show(
    view,
    h("h1", {}, "Workflows"),
    workflows.length
      ? table(["Name", "Description", "State", "Versions", "Auth", "Limit"], rows)
      : h("p", {}, "This key may read no workflow."),
  );
}

function limitOf(workflow) {
  return workflow.maxConcurrency ? `${workflow.maxConcurrency} at once` : "no limit";
}

async function workflowView(name, params, signal) {
  title(name);
  const workflow = await get(`/workflows/${encodeURIComponent(name)}`, { signal });
  const version = Number(params.get("version")) || workflow.latestVersion;
  const graph = await get(`/workflows/${encodeURIComponent(name)}/graph${query({ version })}`, { signal });
  const picker = h(
    "select",
    { id: "graph-version" },
    workflow.versions.map((v) =>
      h(
        "option",
        { value: v, selected: v === version },
        `v${v}${v === workflow.latestVersion ? " (latest)" : ""}`,
      ),
    ),
  );
  picker.addEventListener("change", () => {
    location.hash = `#/workflows/${encodeURIComponent(name)}?version=${picker.value}`;
  });
  const svg = draw(layout(graph), (state) => describeState(graph, state, detail));
  const detail = h(
    "div",
    { class: "state-detail", "aria-live": "polite" },
    h("p", { class: "help" }, "Choose a state to see what it does."),
  );
  const facts = [
    ["State", workflow.enabled ? "enabled" : "disabled: starts are refused"],
    ["Versions", `${workflow.versions.join(", ")} (latest ${workflow.latestVersion})`],
    ["Auth", workflow.auth.join(", ")],
    ["Limit", limitOf(workflow)],
    ["Running", String(workflow.running)],
    ["Queued", String(workflow.queued)],
    ["Longest wait in queue", seconds(workflow.maxQueueSeconds)],
    ["Status variables", workflow.statusVariables.join(", ") || "none"],
    ["Searchable input fields", workflow.searchableInputFields.join(", ") || "none"],
    ["Kept after it ends", `${workflow.retentionHours} h`],
  ];
  const mayStart =
    workflow.enabled &&
    (workflow.auth.includes("none") ||
      (workflow.auth.includes(caller.authMode) && allows(caller, "start", name)));
  show(
    view,
    h("h1", {}, name),
    h("p", {}, workflow.description),
    h(
      "dl",
      { class: "facts" },
      facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
    ),
    h(
      "p",
      {},
      h("a", { href: `#/executions?workflow=${encodeURIComponent(name)}` }, "Executions of this workflow"),
    ),
    h(
      "section",
      { "aria-labelledby": "definition" },
      h("h2", { id: "definition" }, "Definition"),
      h("p", {}, h("label", { for: "graph-version" }, "Version "), picker),
      h("div", { class: "graph-and-detail" }, h("div", { class: "graph-box" }, svg), detail),
    ),
    mayStart
      ? tryIt(workflow)
      : h(
          "p",
          { class: "muted" },
          workflow.enabled ? "This key may not start this workflow." : "Disabled: it cannot be started.",
        ),
  );
}

function describeState(graph, name, detail) {
  const node = graph.nodes.find((n) => n.name === name);
  const out = graph.edges.filter((edge) => edge.from === name);
  show(
    detail,
    h("h3", {}, `${node.name} (${node.type})`),
    node.comment ? h("p", {}, node.comment) : null,
    node.resource ? h("p", {}, "Calls ", h("code", {}, node.resource)) : null,
    node.retries ? h("p", {}, "Retries failed attempts.") : null,
    node.parent ? h("p", {}, "Runs inside ", h("code", {}, node.parent)) : null,
    out.length
      ? h(
          "ul",
          {},
          out.map((edge) => h("li", {}, `${edge.kind} → ${edge.to}`, edge.label ? `: ${edge.label}` : "")),
        )
      : h("p", {}, node.end ? "Its machine can end here." : ""),
  );
}

function tryIt(workflow) {
  const input = inputForm(workflow);
  const version = h(
    "select",
    { id: "start-version", name: "version" },
    workflow.versions.map((v) => h("option", { value: v, selected: v === workflow.latestVersion }, `v${v}`)),
  );
  const correlation = h("input", {
    id: "start-correlation",
    type: "text",
    maxlength: 128,
    autocomplete: "off",
  });
  const priority = h("input", { id: "start-priority", type: "number", min: 0, max: 99, step: 1, value: 0 });
  const idempotency = h("input", {
    id: "start-key",
    type: "text",
    maxlength: 255,
    autocomplete: "off",
    "aria-describedby": "start-key-help",
  });
  const strategy = h(
    "select",
    { id: "start-conflict" },
    CONFLICT_STRATEGIES.map((name) => h("option", { value: name }, name)),
  );
  const formError = h("div", { class: "form-problem", role: "alert" });
  const submit = h("button", { type: "submit" }, "Start execution");
  const option = (id, label, control, pointer, help) =>
    h(
      "div",
      { class: "field", "data-pointer": pointer },
      h("label", { for: id }, label),
      control,
      help ? h("p", { class: "help", id: `${id}-help` }, help) : null,
      h("p", { class: "field-error", role: "alert" }),
    );
  const options = h(
    "fieldset",
    { class: "options" },
    h("legend", {}, "Options"),
    option("start-version", "Version", version, "/query/version"),
    option("start-correlation", "Correlation id", correlation, "/query/correlationid"),
    option("start-priority", "Priority (0-99)", priority, "/query/priority"),
    option(
      "start-key",
      "Idempotency key (optional)",
      idempotency,
      "/header/idempotency-key",
      "The same key again returns, refuses or replaces the first start, as chosen below.",
    ),
    option("start-conflict", "If the key was seen", strategy, "/header/x-on-conflict"),
  );
  const form = h("form", { class: "try-it", novalidate: true }, input.element, options, formError, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    input.clearErrors();
    clearOptionErrors(options);
    show(formError);
    let body;
    try {
      body = input.read();
    } catch (error) {
      if (error instanceof FieldError)
        return input.showErrors([{ field: error.pointer, message: error.message }]);
      throw error;
    }
    const headers = {};
    if (idempotency.value) {
      headers["Idempotency-Key"] = idempotency.value;
      headers["X-On-Conflict"] = strategy.value;
    }
    submit.disabled = true;
    try {
      const path = `/workflows/${encodeURIComponent(workflow.name)}/executions${query({ version: version.value, correlationId: correlation.value, priority: priority.value })}`;
      const started =
        input.kind === "text"
          ? await call("POST", path, { body, contentType: "text/plain; charset=utf-8", headers })
          : await call("POST", path, { body, headers });
      location.hash = `#/executions/${encodeURIComponent(started.executionId)}`;
    } catch (error) {
      if (error instanceof ApiError && Array.isArray(error.problem.errors)) {
        // A parameter's refusal names it as /query/<name> or /header/<name>; the others are the input's.
        const parameter = (e) => /^\/(query|header)\//.test(e.field);
        input.showErrors(error.problem.errors.filter((e) => !parameter(e)));
        showOptionErrors(options, error.problem.errors.filter(parameter));
      }
      show(formError, problemText(error));
    } finally {
      submit.disabled = false;
    }
  });
  return h("section", { "aria-labelledby": "try-it" }, h("h2", { id: "try-it" }, "Try it"), form);
}

/** Errors the API names by parameter (/query/priority, /header/idempotency-key) next to their option. */
function showOptionErrors(options, errors) {
  for (const { field, message } of errors) {
    const option = options.querySelector(`[data-pointer="${CSS.escape(field.toLowerCase())}"]`);
    if (!option) continue;
    option.querySelector(".field-error").textContent = message;
    option.querySelector("input, select")?.setAttribute("aria-invalid", "true");
  }
}

function clearOptionErrors(options) {
  for (const place of options.querySelectorAll(".field-error")) place.textContent = "";
  for (const control of options.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}

// -- the execution search ---------------------------------------------------------------------------

async function executionsView(params, signal, arrived) {
  title("Executions");
  const { workflows } = await get("/workflows", { signal });
  const chosen = workflows.find((w) => w.name === params.get("workflow"));
  const inputField = [...params.keys()].find((name) => name.startsWith("input."));
  const control = (id, label, element) =>
    h("div", { class: "field" }, h("label", { for: id }, label), element);
  const workflow = h(
    "select",
    { id: "filter-workflow", name: "workflow" },
    h("option", { value: "" }, "any"),
    workflows.map((w) => h("option", { value: w.name, selected: w.name === params.get("workflow") }, w.name)),
  );
  const status = h(
    "select",
    { id: "filter-status", name: "status" },
    h("option", { value: "" }, "any"),
    STATUSES.map((s) => h("option", { value: s, selected: s === params.get("status") }, s)),
  );
  const text = (id, name) =>
    h("input", { id, name, type: "text", value: params.get(name) || "", autocomplete: "off" });
  // A time range in the browser's time zone, sent as UTC instants.
  const instant = (id, name) =>
    h("input", { id, name, type: "datetime-local", value: localInput(params.get(name)), "data-instant": "" });
  const fields = chosen ? chosen.searchableInputFields : [];
  const field = h(
    "select",
    { id: "filter-input-field", disabled: !fields.length },
    h("option", { value: "" }, fields.length ? "(none)" : "choose a workflow with searchable fields"),
    fields.map((f) => h("option", { value: f, selected: `input.${f}` === inputField }, f)),
  );
  const value = h("input", {
    id: "filter-input-value",
    type: "text",
    value: inputField ? params.get(inputField) : "",
    autocomplete: "off",
    disabled: !fields.length,
  });
  workflow.addEventListener("change", () => form.requestSubmit());
  const form = h(
    "form",
    { class: "filters", role: "search" },
    control("filter-workflow", "Workflow", workflow),
    control("filter-status", "Status", status),
    control("filter-correlation", "Correlation id", text("filter-correlation", "correlationId")),
    control("filter-started-by", "Started by (principal id)", text("filter-started-by", "startedBy")),
    control("filter-since", "Created since", instant("filter-since", "since")),
    control("filter-until", "Created until", instant("filter-until", "until")),
    control("filter-input-field", "Input field", field),
    control("filter-input-value", "Input value", value),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosenParams = { workflow: workflow.value, status: status.value };
    for (const input of form.querySelectorAll("input[name]")) {
      chosenParams[input.name] = input.hasAttribute("data-instant") ? utcInstant(input.value) : input.value;
    }
    if (workflow.value === params.get("workflow") && field.value && value.value)
      chosenParams[`input.${field.value}`] = value.value;
    location.hash = `#/executions${query(chosenParams)}`;
  });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const note = h("p", { class: "help refresh-note" });
  show(view, h("h1", {}, "Executions"), form, note, results);

  const search = {};
  for (const [name, given] of params) if (given) search[name] = given;
  let pages = 1;
  let drawn = null; // what the results show: drawn again only when it changed, so that focus stays put
  const render = async () => {
    const items = [];
    let token;
    for (let page = 0; page < pages; page += 1) {
      const answer = await get(`/executions${query({ ...search, nextToken: token })}`, { signal });
      items.push(...answer.items);
      token = answer.nextToken;
      if (!token) break;
    }
    const live = items.some((item) => LIVE.has(item.status));
    const signature = JSON.stringify([items, Boolean(token)]);
    if (signature === drawn) return live;
    drawn = signature;
    const more = token ? h("button", { type: "button", class: "more" }, "More") : null;
    more?.addEventListener("click", () => {
      pages += 1;
      render().catch((error) => signal.aborted || show(results, problemText(error)));
    });
    show(results, items.length ? executionTable(items) : h("p", {}, "No execution matches."), more);
    return live;
  };
  try {
    let live = await render();
    arrived(signal);
    while (live && !signal.aborted) {
      note.textContent = `Refreshing every ${REFRESH_MILLISECONDS / 1000} s while an execution shown runs.`;
      await pause(REFRESH_MILLISECONDS, signal);
      if (signal.aborted) return;
      live = await render();
    }
    note.textContent = "";
  } catch (error) {
    if (!signal.aborted) show(results, problemText(error));
  }
}

/** A datetime-local value (the browser's time) as the UTC instant the API takes; '' for none. */
function utcInstant(local) {
  const date = local ? new Date(local) : null;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : "";
}

/** An instant of the URL as a datetime-local value, in the browser's time. */
function localInput(instant) {
  const date = instant ? new Date(instant) : null;
  if (!date || Number.isNaN(date.getTime())) return "";
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

function executionTable(items) {
  const rows = items.map((item) =>
    h(
      "tr",
      { "data-execution": item.executionId },
      h(
        "th",
        { scope: "row" },
        h("a", { href: `#/executions/${encodeURIComponent(item.executionId)}` }, item.executionId),
      ),
      h("td", {}, item.workflow),
      h("td", {}, `v${item.version}`),
      h("td", {}, statusBadge(item.status)),
      h("td", {}, when(item.createdAt)),
      h("td", {}, item.correlationId || ""),
    ),
  );
  return table(["Execution", "Workflow", "Version", "Status", "Created", "Correlation id"], rows);
}

// -- one execution ----------------------------------------------------------------------------------

async function executionView(executionId, signal, arrived) {
  title(`Execution ${executionId}`);
  const path = `/executions/${encodeURIComponent(executionId)}`;
  let execution = await get(path, { signal });
  const graph = await get(
    `/workflows/${encodeURIComponent(execution.workflow)}/graph${query({ version: execution.version })}`,
    { signal },
  ).catch(() => null);
  const summary = h("div", { class: "summary" });
  const actions = h("div", { class: "actions" });
  const detail = h(
    "div",
    { class: "state-detail", "aria-live": "polite" },
    h("p", { class: "help" }, "Choose a state to see its input and output."),
  );
  const svg = graph ? draw(layout(graph), (state) => stateRuns(executionId, state, detail, signal)) : null;
  let runs = new Map();
  const repaint = () => svg && paint(svg, runs);
  show(
    view,
    h("h1", {}, "Execution ", h("code", {}, executionId)),
    summary,
    actions,
    svg
      ? h(
          "section",
          { "aria-labelledby": "states" },
          h("h2", { id: "states" }, "States"),
          legend(),
          h("div", { class: "graph-and-detail" }, h("div", { class: "graph-box" }, svg), detail),
        )
      : null,
  );
  let actionsFor = null; // the status the buttons were drawn for: a keyboard user's focus stays on them
  const update = (changes, whole = false) => {
    execution = whole ? changes : { ...execution, ...changes };
    renderSummary(summary, execution);
    if (execution.status !== actionsFor) {
      actionsFor = execution.status;
      renderActions(actions, execution, signal);
    }
  };
  update({});
  arrived(signal);
  // A live execution's states come from its event stream, which replays every node event from the start
  // and then follows; a finished one's (and, once it ends, a live one's) from its history, read once
  // nothing more can happen, so that no event is lost to a read in flight.
  const settle = async () => {
    runs = fromHistory(await historyItems(executionId, false, signal));
    repaint();
  };
  if (!LIVE.has(execution.status)) return await settle();
  let ended = false;
  await follow(
    executionId,
    (kind, data) => {
      if (kind === "status") update({ status: data.status });
      // A snapshot leaves out what it lacks (no current node once none runs): those keys go too.
      else if (kind === "progress") update({ ...PROGRESS_CLEARED, ...data });
      else if (kind === "variables") update({ statusVariables: data.statusVariables });
      else if (kind.startsWith("node_")) {
        runs = applyNodeEvent(runs, kind, data);
        repaint();
      } else {
        update(data, true); // the final event's data is the whole status document
        ended = true;
        return "final";
      }
      return undefined;
    },
    signal,
  );
  if (ended) await settle();
}

const PROGRESS_CLEARED = {
  progress: undefined,
  currentNode: undefined,
  completedNodes: undefined,
  totalNodes: undefined,
  retryCount: undefined,
};

function legend() {
  return h(
    "ul",
    { class: "legend", "aria-label": "What the colours and marks say" },
    Object.entries(STATE_MARKS).map(([status, mark]) =>
      h("li", { class: status }, mark ? `${mark} ` : "", status.replace("-", " ")),
    ),
  );
}

function renderSummary(container, execution) {
  const facts = [
    [
      "Workflow",
      h("a", { href: `#/workflows/${encodeURIComponent(execution.workflow)}` }, execution.workflow),
    ],
    ["Version", `v${execution.version}`],
    ["Created", when(execution.createdAt)],
    ["Started", when(execution.startedAt)],
    ["Completed", when(execution.completedAt)],
    ["Duration", duration(execution.startedAt, execution.completedAt)],
    ["Correlation id", execution.correlationId],
    ["Priority", String(execution.priority ?? "")],
    ["Started by", execution.startedBy],
    ["Queue position", execution.queuePosition === undefined ? null : String(execution.queuePosition)],
    ["Retried", execution.redriveCount ? `${execution.redriveCount} time(s)` : null],
    [
      "Rerun of",
      execution.rerunOf
        ? h("a", { href: `#/executions/${encodeURIComponent(execution.rerunOf)}` }, execution.rerunOf)
        : null,
    ],
    [
      "Rerun as",
      execution.reruns
        ? h(
            "ul",
            { class: "reruns" },
            execution.reruns.map((id) =>
              h("li", {}, h("a", { href: `#/executions/${encodeURIComponent(id)}` }, id)),
            ),
          )
        : null,
    ],
  ].filter(([, value]) => value);
  const progress = execution.progress ?? 0;
  const variables = Object.entries(execution.statusVariables || {});
  show(
    container,
    h("p", { class: "status-line" }, "Status ", statusBadge(execution.status)),
    h(
      "div",
      { class: "progress" },
      h("label", { for: "progress" }, `Progress ${progress}%`),
      h("progress", { id: "progress", max: 100, value: progress }),
      h(
        "span",
        { class: "help" },
        execution.totalNodes ? ` ${execution.completedNodes} of ${execution.totalNodes} states` : "",
        execution.currentNode ? `, now ${execution.currentNode}` : "",
        execution.retryCount ? `, ${execution.retryCount} retries` : "",
      ),
    ),
    h(
      "dl",
      { class: "facts" },
      facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
    ),
    h("h2", {}, "Status variables"),
    variables.length
      ? h(
          "dl",
          { class: "facts variables" },
          variables.map(([name, value]) => [
            h("dt", {}, name),
            h("dd", {}, typeof value === "string" ? value : JSON.stringify(value)),
          ]),
        )
      : h("p", { class: "muted" }, "None reported yet."),
    execution.error
      ? [
          h("h2", {}, "Error"),
          h(
            "p",
            { class: "problem" },
            h("strong", {}, execution.error.code),
            `: ${execution.error.message}`,
            execution.error.node ? ` (in ${execution.error.node})` : "",
          ),
        ]
      : null,
    execution.output !== undefined
      ? [h("h2", {}, "Output"), h("pre", { class: "json output" }, pretty(execution.output))]
      : null,
    execution.input !== undefined
      ? h(
          "details",
          {},
          h("summary", {}, "Input"),
          h("pre", { class: "json input" }, pretty(execution.input)),
        )
      : null,
  );
}

function renderActions(container, execution, signal) {
  const buttons = [];
  const act = (label, method, suffix, onDone) => {
    const button = h("button", { type: "button" }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const answer = await call(
          method,
          `/executions/${encodeURIComponent(execution.executionId)}${suffix}`,
          { body: method === "POST" ? {} : undefined },
        );
        onDone(answer);
      } catch (error) {
        if (!signal.aborted) show(container, ...buttons, problemText(error));
      } finally {
        button.disabled = false;
      }
    });
    buttons.push(button);
  };
  const again = () => route();
  if (LIVE.has(execution.status) && allows(caller, "cancel", execution.workflow))
    act("Cancel", "DELETE", "", again);
  if (RETRYABLE.has(execution.status) && allows(caller, "retry", execution.workflow))
    act("Retry", "POST", "/retry", again);
  if (
    !LIVE.has(execution.status) &&
    allows(caller, "retry", execution.workflow) &&
    allows(caller, "start", execution.workflow)
  ) {
    act("Rerun", "POST", "/rerun", (started) => {
      location.hash = `#/executions/${encodeURIComponent(started.executionId)}`;
    });
  }
  show(container, ...buttons);
}

async function historyItems(executionId, io, signal) {
  const items = [];
  let token;
  for (let page = 0; page < HISTORY_PAGES; page += 1) {
    const answer = await get(
      `/executions/${encodeURIComponent(executionId)}/history${query({ include: io ? "io" : undefined, nextToken: token })}`,
      { signal },
    );
    items.push(...answer.items);
    token = answer.nextToken;
    if (!token) break;
  }
  return items;
}

const chosenStates = new WeakMap(); // each detail panel's latest choice: an earlier read arriving late is dropped

async function stateRuns(executionId, name, detail, signal) {
  chosenStates.set(detail, name);
  show(detail, h("h3", {}, name), h("p", { class: "help" }, "Reading its input and output…"));
  try {
    const items = (await historyItems(executionId, true, signal)).filter((item) => item.name === name);
    if (chosenStates.get(detail) !== name) return;
    show(
      detail,
      h("h3", {}, name),
      items.length
        ? items.map((item, index) =>
            h(
              "article",
              { class: "run" },
              h(
                "h4",
                {},
                items.length > 1 ? `Run ${index + 1}: ` : "",
                statusBadge(item.status),
                item.attempts > 1 ? ` after ${item.attempts} attempts` : "",
              ),
              h(
                "p",
                { class: "help" },
                when(item.startedAt),
                item.endedAt ? ` – ${when(item.endedAt)} (${duration(item.startedAt, item.endedAt)})` : "",
              ),
              item.error
                ? h("p", { class: "problem" }, h("strong", {}, item.error.code), `: ${item.error.message}`)
                : null,
              h("h5", {}, "Input"),
              item.inputTruncated
                ? h("p", { class: "muted" }, "Too large to show.")
                : h("pre", { class: "json state-input" }, pretty(item.input)),
              h("h5", {}, "Output"),
              item.outputTruncated
                ? h("p", { class: "muted" }, "Too large to show.")
                : item.output === undefined
                  ? h("p", { class: "muted" }, "None yet.")
                  : h("pre", { class: "json state-output" }, pretty(item.output)),
            ),
          )
        : h("p", { class: "muted" }, "Not reached."),
    );
  } catch (error) {
    if (!signal.aborted && chosenStates.get(detail) === name)
      show(detail, h("h3", {}, name), problemText(error));
  }
}
