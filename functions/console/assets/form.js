// The "try it" form of a workflow, generated from its input JSON Schema: one labelled field per property
// (types, enums, required, limits), or a JSON text area for what a form cannot say. The API is the one
// judge of the input: the form sets no browser validation (novalidate), and shows the API's errors next
// to the fields their JSON Pointers name.

import { h } from "./dom.js";

let fieldCount = 0;

function typesOf(schema) {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : [];
}

/** A field for one property: {element, read(): [present, value], name}. */
function fieldFor(name, schema, required) {
  const id = `field-${++fieldCount}`;
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const types = typesOf(schema);
  const described = [schema.description ? helpId : null, errorId].filter(Boolean).join(" ");
  const common = { id, name, "aria-describedby": described, "aria-required": required ? "true" : null };
  let control;
  let read;
  if (Array.isArray(schema.enum)) {
    control = h(
      "select",
      common,
      h("option", { value: "" }, required ? "(choose one)" : "(not set)"),
      schema.enum.map((value, index) =>
        h(
          "option",
          { value: String(index) },
          JSON.stringify(value) === `"${value}"` ? value : JSON.stringify(value),
        ),
      ),
    );
    read = () => (control.value === "" ? [false] : [true, schema.enum[Number(control.value)]]);
  } else if (types.length === 1 && types[0] === "boolean") {
    control = h(
      "select",
      common,
      required ? null : h("option", { value: "" }, "(not set)"),
      h("option", { value: "true" }, "true"),
      h("option", { value: "false" }, "false"),
    );
    read = () => (control.value === "" ? [false] : [true, control.value === "true"]);
  } else if (types.length === 1 && (types[0] === "integer" || types[0] === "number")) {
    control = h("input", {
      ...common,
      type: "number",
      inputmode: types[0] === "integer" ? "numeric" : "decimal",
      step: types[0] === "integer" ? "1" : "any",
      min: schema.minimum,
      max: schema.maximum,
    });
    read = () => (control.value === "" ? [false] : [true, Number(control.value)]);
  } else if (types.includes("string")) {
    const long = (schema.maxLength || 0) > 200;
    const attributes = {
      ...common,
      minlength: schema.minLength,
      maxlength: schema.maxLength,
      autocomplete: "off",
    };
    control = long ? h("textarea", { ...attributes, rows: 4 }) : h("input", { ...attributes, type: "text" });
    // A property that is text or a number (["string", "integer"]) is sent as text: both are valid.
    read = () => (control.value === "" ? [false] : [true, control.value]);
  } else {
    control = h("textarea", { ...common, rows: 3, class: "json", placeholder: "JSON", spellcheck: "false" });
    read = () => {
      if (control.value.trim() === "") return [false];
      try {
        return [true, JSON.parse(control.value)];
      } catch {
        throw new FieldError(pointerTo(name), "Not JSON");
      }
    };
  }
  const element = h(
    "div",
    { class: "field", "data-pointer": pointerTo(name) },
    h(
      "label",
      { for: id },
      name,
      required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null,
    ),
    control,
    schema.description ? h("p", { class: "help", id: helpId }, schema.description) : null,
    h("p", { class: "field-error", id: errorId, role: "alert" }),
  );
  return { element, read, name, control };
}

/** The JSON Pointer (RFC 6901) of a top-level property, as the API names it in its errors. */
function pointerTo(name) {
  return `/${name.replaceAll("~", "~0").replaceAll("/", "~1")}`;
}

export class FieldError extends Error {
  constructor(pointer, message) {
    super(message);
    this.pointer = pointer;
  }
}

/**
 * The input part of the form: {element, read(): the input (object or text), showErrors(errors),
 * clearErrors()}. `workflow` is GET /workflows/{name}'s document.
 */
export function inputForm(workflow) {
  const schema = workflow.inputSchema;
  if (workflow.contentVariable) {
    return wholeInput(`Content (sent as text, as ${workflow.contentVariable})`, "", "text", (text) => text);
  }
  const properties = schema && schema.type === "object" && schema.properties;
  if (!properties) {
    return wholeInput("Input (JSON object)", "{}", "json", (text) => {
      try {
        return JSON.parse(text || "{}");
      } catch {
        throw new FieldError("", "The input is not JSON");
      }
    });
  }
  const required = new Set(schema.required || []);
  const fields = Object.entries(properties).map(([name, property]) =>
    fieldFor(name, property || {}, required.has(name)),
  );
  const whole = h("p", { class: "field-error form-error", id: "input-error", role: "alert" });
  const element = h(
    "fieldset",
    { class: "input" },
    h("legend", {}, "Input"),
    fields.map((field) => field.element),
    whole,
  );
  return {
    element,
    kind: "json",
    read() {
      const input = {};
      for (const field of fields) {
        const [present, value] = field.read();
        if (present) input[field.name] = value;
      }
      return input;
    },
    showErrors: (errors) => showErrors(element, errors),
    clearErrors: () => clearErrors(element),
  };
}

/** One text area for the whole input: `parse` makes the input of its text (`kind` "text" or "json"). */
function wholeInput(label, initial, kind, parse) {
  const text = h(
    "textarea",
    { id: "input-whole", rows: 8, class: kind, spellcheck: "false", "aria-describedby": "input-whole-error" },
    initial,
  );
  const element = h(
    "div",
    { class: "field", "data-pointer": "" },
    h("label", { for: "input-whole" }, label),
    text,
    h("p", { class: "field-error", id: "input-whole-error", role: "alert" }),
  );
  return {
    element,
    kind,
    read: () => parse(text.value),
    showErrors: (errors) => showErrors(element, errors),
    clearErrors: () => clearErrors(element),
  };
}

/** The API's field errors ({field: JSON Pointer, message}) next to their fields; others at the end. */
function showErrors(container, errors) {
  clearErrors(container);
  for (const { field, message } of errors) {
    const pointer = field || "";
    const top = `/${pointer.split("/")[1] || ""}`;
    const target =
      container.querySelector(`[data-pointer="${CSS.escape(pointer)}"]`) ||
      (pointer ? container.querySelector(`[data-pointer="${CSS.escape(top)}"]`) : null);
    const place = target
      ? target.querySelector(".field-error")
      : container.querySelector(".form-error") || container.querySelector(".field-error");
    if (!place) continue;
    place.textContent = place.textContent ? `${place.textContent}; ${message}` : message;
    target?.querySelector("input, select, textarea")?.setAttribute("aria-invalid", "true");
  }
}

function clearErrors(container) {
  for (const place of container.querySelectorAll(".field-error")) place.textContent = "";
  for (const control of container.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}
