// What each state of an execution did, for colouring its graph: from its node history (GET .../history),
// and kept current by the event stream's node events in between.

const BY_NODE_STATUS = {
  RUNNING: "running",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  TIMED_OUT: "failed",
  CANCELLED: "cancelled",
};

function settled(run) {
  if (run.open > 0) return run.failures > 0 ? "retried" : "running";
  if (run.lastFailed) return "failed";
  return run.attempts > 1 || run.failures > 0 ? "retried" : "succeeded";
}

/** The states' runs from the node history's entries (one per state run, oldest first). */
export function fromHistory(items) {
  const runs = new Map();
  for (const item of items) {
    const run = runs.get(item.name) || { runs: 0, attempts: 0, status: "not-reached", open: 0, failures: 0 };
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

/** The runs after one of the stream's node events: node_started, node_completed or node_failed. */
export function applyNodeEvent(runs, kind, event) {
  const run = runs.get(event.name) || { runs: 0, attempts: 0, open: 0, failures: 0, status: "not-reached" };
  if (kind === "node_started") {
    run.runs += 1;
    run.open += 1;
    run.lastFailed = false;
  } else if (kind === "node_completed") {
    run.open = Math.max(0, run.open - 1);
    run.lastFailed = false;
  } else if (kind === "node_failed") {
    // A failed attempt: a retry may follow (the run stays open), or a Catch or the execution's end.
    run.failures += 1;
    run.lastFailed = true;
    run.attempts = Math.max(run.attempts, run.failures);
  }
  run.status = settled(run);
  if (kind === "node_failed" && run.open > 0) run.status = "retried";
  runs.set(event.name, run);
  return runs;
}
