// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// The page's data, its own path and the DOM helpers. Everything from the server or the models goes
// into the page through textContent and DOM nodes only; the page's policy also forbids HTML strings
// (Trusted Types).

const data = JSON.parse(document.getElementById("form-data").textContent);
const base = location.pathname.replace(/\/+$/, "");
const $ = (id) => document.getElementById(id);

/** Build an element; string children become text nodes, never markup. */
function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Text with `backticks` shown as code, as the task input formats are written. */
function withCode(text) {
  const parts = String(text).split("`");
  return parts.map((part, i) => (i % 2 ? el("code", "", part) : document.createTextNode(part)));
}
