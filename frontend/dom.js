// Tiny DOM helpers: every element is built with createElement and every piece
// of data goes in through textContent or an attribute, never as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(node, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.setAttribute("class", value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children || []) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** An HTML element: el("div", {class: "x", text: "y"}, [children]). */
export function el(tag, props, children) {
  return apply(document.createElement(tag), props, children);
}

/** An SVG element, same calling convention as el(). */
export function svg(tag, props, children) {
  return apply(document.createElementNS(SVG_NS, tag), props, children);
}

/** Removes every child of `node`. */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}
