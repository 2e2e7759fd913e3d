// Building the page. Every value that comes from the API (inputs, outputs, errors, names) becomes a text
// node: this module never parses markup, so a value cannot become HTML however it is written.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) {
      // Handlers are functions, never text: an event attribute written as a string would be markup.
      if (typeof value !== "function") throw new TypeError(`${name} must be a function`);
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("a", {href: "#/x"}, "text", otherNode). Strings are text, never markup. */
export function h(tag, attributes, ...children) {
  return fill(document.createElement(tag), attributes, children);
}

/** An SVG element, the same way. */
export function s(tag, attributes, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children);
}

/** Replace an element's children. */
export function show(container, ...children) {
  container.replaceChildren();
  fill(container, {}, children);
  return container;
}

/** A table of `rows` (<tr> elements) under these column names, scrolling sideways on a narrow screen. */
export function table(columns, rows) {
  const head = h(
    "thead",
    {},
    h(
      "tr",
      {},
      columns.map((name) => h("th", { scope: "col" }, name)),
    ),
  );
  return h("div", { class: "table" }, h("table", {}, head, h("tbody", {}, rows)));
}

/** A JSON value as indented text, for a <pre>. */
export function pretty(value) {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

export function when(instant) {
  if (!instant) return "";
  const date = new Date(instant);
  return Number.isNaN(date.getTime()) ? String(instant) : date.toLocaleString();
}

export function duration(from, to) {
  if (!from) return "";
  const milliseconds = (to ? new Date(to) : new Date()) - new Date(from);
  return milliseconds >= 0 ? seconds(milliseconds / 1000) : "";
}

/** A number of seconds as people read it: 2.5 s, 4 min 10 s, 24 h 0 min. */
export function seconds(seconds) {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
