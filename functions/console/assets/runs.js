// What each state of an execution did, for colouring its graph: from its node history (GET .../history)
// once it has ended, and from the event stream's node events while it runs.

const BY_NODE_STATUS = {
  RUNNING: "running",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  TIMED_OUT: "failed",
  CANCELLED: "cancelled",
};

/**
 * One state's runs: how often it was entered (`runs`), its task attempts as the history counts them
 * (`attempts`), the failed attempts the stream reported (`failures`), its runs still open, and `status`,
 * one of graph.js's STATE_CLASSES.
 */
function newRun() {
  return { runs: 0, attempts: 0, failures: 0, open: 0, lastFailed: false, status: "not-reached" };
}

/** The states' runs from the node history's entries (one per state run, oldest first). */
export function fromHistory(items) {
  const runs = new Map();
  for (const item of items) {
    const run = runs.get(item.name) || newRun();
    run.runs += 1;
    run.attempts = Math.max(run.attempts, item.attempts || 0);
    const status = BY_NODE_STATUS[item.status] || "not-reached";
    // A state is running while any of its runs is (a Map's items), else as its latest run ended.
    if (run.status !== "running" || status === "running") run.status = status;
    if (run.status === "succeeded" && run.attempts > 1) run.status = "retried";
    runs.set(item.name, run);
  }
  return runs;
}

/**
 * The runs after one of the stream's node events: node_started, node_completed or node_failed. A failed
 * attempt may be retried, caught or the end: the stream does not say which, so a state with a failed
 * attempt shows "retried" unless nothing followed it, and the history read at the end settles it.
 */
export function applyNodeEvent(runs, kind, event) {
  const run = runs.get(event.name) || newRun();
  if (kind === "node_started") {
    run.runs += 1;
    run.open += 1;
    run.lastFailed = false;
  } else if (kind === "node_completed") {
    // After a failed attempt: retried and succeeded, or caught; amber either way until the history says.
    run.open = Math.max(0, run.open - 1);
    run.lastFailed = false;
  } else if (kind === "node_failed") {
    run.failures += 1;
    run.lastFailed = true;
  }
  if (run.open > 0) run.status = run.failures > 0 ? "retried" : "running";
  else run.status = run.lastFailed ? "failed" : run.failures > 0 ? "retried" : "succeeded";
  runs.set(event.name, run);
  return runs;
}
