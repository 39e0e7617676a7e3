// A one-line notice under the toolbar, e.g. what a deep link asked for that
// is not there and what is shown instead. Not an error: the panel works on.
import {el} from "./dom.js";

export class Notice {
  constructor() {
    this.text = el("span", {class: "fv-notice-text"});
    this.element = el("div", {id: "fv-notice", class: "fv-notice", role: "status",
                              hidden: true}, [
      this.text,
      el("button", {id: "fv-notice-close", class: "fv-button fv-icon", type: "button",
                    title: "Dismiss", "aria-label": "Dismiss", text: "×",
                    onclick: () => this.show(null)}),
    ]);
  }

  /** Shows `message` (null or "": hides the notice). */
  show(message) {
    this.text.textContent = message || "";
    this.text.title = message || "";
    this.element.hidden = !message;
  }
}
