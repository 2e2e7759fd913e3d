// A workflow's graph (GET /workflows/{name}/graph) drawn as SVG, laid out by dagre (dagre.min.js,
// vendored: see dagre-license.txt). Maps and Parallels are boxes around the states they run; a
// transition into one goes to where its states start, one out of it leaves from where they end.

import { s } from "./dom.js";

const CONTAINERS = new Set(["Map", "Parallel"]);
const NODE_HEIGHT = 44;
const CONTAINER_LABEL = 22;
const LABEL_CHARACTERS = 28;
// What a state did, each with a mark beside its colour, so that colour is never all that tells them apart.
export const STATE_MARKS = {
  "not-reached": "",
  running: "●",
  succeeded: "✓",
  failed: "✗",
  retried: "↻",
  cancelled: "⊘",
};
const STATE_CLASSES = Object.keys(STATE_MARKS);

function shortened(text, characters = LABEL_CHARACTERS) {
  return text.length <= characters ? text : `${text.slice(0, characters - 1)}…`;
}

/** Where a transition into `name` lands: itself, or the states its Map or Parallel starts with. */
function entries(graph, name) {
  const node = graph.byName.get(name);
  if (!node || !CONTAINERS.has(node.type)) return [name];
  return graph.nodes.filter((n) => n.parent === name && n.start).flatMap((n) => entries(graph, n.name));
}

/**
 * Where a transition out of `name` leaves from: itself, or the states its Map or Parallel ends with (not
 * a Fail state: the container fails there, and its Next is not taken). dagre lays out no edge that leaves
 * a box itself, so a container's Catch is drawn from where its states start: it can fail anywhere in it.
 */
function exits(graph, name, kind) {
  const node = graph.byName.get(name);
  if (!node || !CONTAINERS.has(node.type)) return [name];
  if (kind === "catch") return entries(graph, name);
  return graph.nodes
    .filter((n) => n.parent === name && n.end && n.type !== "Fail")
    .flatMap((n) => exits(graph, n.name));
}

function branchBox(node) {
  return `${node.parent}\u0000${node.branch}`;
}

/** The laid-out graph: dagre's, with the API's graph beside it. */
export function layout(document) {
  const graph = { ...document, byName: new Map(document.nodes.map((node) => [node.name, node])) };
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  // The ranks are far enough apart for a container's name above its box (dagre leaves no room inside).
  g.setGraph({
    rankdir: "TB",
    nodesep: 22,
    ranksep: 48,
    edgesep: 12,
    marginx: 12,
    marginy: CONTAINER_LABEL + 12,
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) {
    if (CONTAINERS.has(node.type)) {
      g.setNode(node.name, { container: node });
    } else {
      const width = Math.max(120, 8 * Math.max(node.name.length, node.type.length + 4) + 24);
      g.setNode(node.name, { node, width: Math.min(width, 260), height: NODE_HEIGHT });
    }
    if (node.parent) {
      const parent = graph.byName.get(node.parent);
      if (parent.type === "Parallel") {
        const box = branchBox(node);
        if (!g.hasNode(box)) {
          g.setNode(box, { branch: node.branch });
          g.setParent(box, node.parent);
        }
        g.setParent(node.name, box);
      } else {
        g.setParent(node.name, node.parent);
      }
    }
  }
  graph.edges.forEach((edge, index) => {
    for (const from of exits(graph, edge.from, edge.kind)) {
      for (const to of entries(graph, edge.to)) {
        const label = edge.label ? shortened(edge.label) : "";
        g.setEdge(
          from,
          to,
          { edge, label, width: label.length * 6.2, height: label ? 14 : 0, labelpos: "c" },
          `${index}:${from}:${to}`,
        );
      }
    }
  });
  dagre.layout(g);
  return { graph, g };
}

/**
 * The SVG of a laid-out graph. `onSelect(name)` is called when a state is clicked or chosen with the
 * keyboard (Enter or Space); every state is focusable: the Maps and Parallels first, then the others,
 * each in definition order (a box is drawn under the states in it).
 */
export function draw({ graph, g }, onSelect) {
  const size = g.graph();
  const svg = s("svg", {
    class: "graph",
    viewBox: `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`,
    width: Math.ceil(size.width),
    role: "group",
    "aria-label": `States of ${graph.workflow} version ${graph.version}`,
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "marker",
        {
          id: "arrow",
          viewBox: "0 0 10 10",
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: "auto-start-reverse",
        },
        s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }),
      ),
    ),
  );
  const boxes = s("g", { class: "boxes" });
  const lines = s("g", { class: "edges" });
  const states = s("g", { class: "states" });
  svg.append(boxes, lines, states);
  for (const id of g.nodes()) {
    const box = g.node(id);
    if (!box.container && box.branch === undefined) continue;
    const x = box.x - box.width / 2;
    let y = box.y - box.height / 2;
    if (box.container) {
      y -= CONTAINER_LABEL;
      const node = box.container;
      const group = s("g", {
        class: "container state not-reached",
        "data-state": node.name,
        tabindex: 0,
        role: "button",
        "aria-label": `${node.name}, ${node.type}`,
      });
      group.append(
        s("rect", { x, y, width: box.width, height: box.height + CONTAINER_LABEL, rx: 8 }),
        s(
          "text",
          { x: x + 10, y: y + 16, class: "name" },
          shortened(`${node.name} · ${node.type}`, Math.floor((box.width - 40) / 7)),
        ),
        s("text", { x: x + box.width - 10, y: y + 16, class: "badge", "text-anchor": "end" }, ""),
        s("text", { x: x + box.width - 10, y: y + 30, class: "mark", "text-anchor": "end" }, ""),
        s("title", {}, node.comment || `${node.name} (${node.type})`),
      );
      activate(group, () => onSelect(node.name));
      boxes.append(group);
    } else {
      boxes.append(s("rect", { class: "branch", x, y, width: box.width, height: box.height, rx: 6 }));
    }
  }
  for (const id of g.edges()) {
    const line = g.edge(id);
    const points = line.points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" L ");
    lines.append(
      s(
        "path",
        { d: `M ${points}`, class: `edge ${line.edge.kind}`, "marker-end": "url(#arrow)" },
        s("title", {}, `${line.edge.from} → ${line.edge.to}${line.edge.label ? `: ${line.edge.label}` : ""}`),
      ),
    );
    if (line.label) {
      lines.append(
        s(
          "text",
          { x: line.x, y: line.y + 4, class: "edge-label", "text-anchor": "middle" },
          line.label,
          s("title", {}, line.edge.label),
        ),
      );
    }
  }
  for (const id of g.nodes()) {
    const box = g.node(id);
    if (!box.node) continue;
    const node = box.node;
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    const group = s("g", {
      class: `state not-reached type-${node.type.toLowerCase()}${node.start && !node.parent ? " start" : ""}`,
      "data-state": node.name,
      tabindex: 0,
      role: "button",
      "aria-label": `${node.name}, ${node.type}`,
    });
    group.append(
      s("rect", { x, y, width: box.width, height: box.height, rx: node.type === "Choice" ? 18 : 6 }),
      s("text", { x: box.x, y: y + 18, class: "name", "text-anchor": "middle" }, shortened(node.name, 30)),
      s(
        "text",
        { x: box.x, y: y + 34, class: "type", "text-anchor": "middle" },
        node.resource ? `${node.type} · ${node.resource}` : node.type,
      ),
      s("text", { x: x + box.width - 6, y: y + 12, class: "badge", "text-anchor": "end" }, ""),
      s("text", { x: x + 8, y: y + 16, class: "mark" }, ""),
      s("title", {}, node.comment || `${node.name} (${node.type})`),
    );
    activate(group, () => onSelect(node.name));
    states.append(group);
  }
  return svg;
}

function activate(element, action) {
  element.addEventListener("click", action);
  element.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      action();
    }
  });
}

/**
 * Colour each state by what it did. `runs` maps a state's name to {status, attempts, runs}: status one of
 * STATE_CLASSES, attempts its task attempts (more than one: retried), runs how often it was entered.
 */
export function paint(svg, runs) {
  for (const group of svg.querySelectorAll("[data-state]")) {
    const name = group.getAttribute("data-state");
    const run = runs.get(name);
    const status = run ? run.status : "not-reached";
    group.classList.remove(...STATE_CLASSES);
    group.classList.add(status);
    const notes = [];
    if (run && run.attempts > 1) notes.push(`${run.attempts} attempts`);
    else if (run && run.failures > 0) notes.push(`${run.failures} failed`);
    if (run && run.runs > 1) notes.push(`${run.runs} runs`);
    group.querySelector(".badge").textContent = notes.join(", ");
    group.querySelector(".mark").textContent = STATE_MARKS[status];
    const type = group.querySelector(".type")?.textContent || "";
    group.setAttribute(
      "aria-label",
      `${name}, ${type || "container"}: ${status.replace("-", " ")}${notes.length ? `, ${notes.join(", ")}` : ""}`,
    );
  }
}
