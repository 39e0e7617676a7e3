// The "Link" button: shows the URL of the current view (see deep_link.js) in a
// read-only field, selected, with a button that copies it.
import {el} from "./dom.js";

export class LinkControl {
  /** `getUrl()` returns the link of the view shown. */
  constructor(getUrl) {
    this.getUrl = getUrl;
    this.button = el("button", {
      id: "fv-link", class: "fv-button", type: "button", text: "Link",
      title: "Link to this view (run, layer, step and open unit)",
      "aria-expanded": "false", "aria-controls": "fv-link-box",
      onclick: () => this.toggle(),
    });
    this.input = el("input", {
      id: "fv-link-url", class: "fv-link-url", type: "text", readonly: true,
      spellcheck: "false", "aria-label": "Link to this view",
      onfocus: () => {
        this.input.select();
        this.input.scrollLeft = 0;
      },
    });
    this.status = el("span", {id: "fv-link-status", class: "fv-muted", "aria-live": "polite"});
    this.box = el("div", {id: "fv-link-box", class: "fv-link-box", hidden: true}, [
      this.input,
      el("button", {id: "fv-link-copy", class: "fv-button", type: "button", text: "Copy",
                    onclick: () => this.copy()}),
      this.status,
      el("button", {class: "fv-button fv-icon", type: "button", title: "Close",
                    "aria-label": "Close", text: "×", onclick: () => this.close()}),
    ]);
    this.box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.close();
        this.button.focus();
      }
    });
  }

  get open() {
    return !this.box.hidden;
  }

  toggle() {
    if (this.open) this.close();
    else this.show();
  }

  show() {
    this.box.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.update();
    this.input.focus();
    this.input.select();
    this.input.scrollLeft = 0;  // the start of the URL, not its end
  }

  close() {
    this.box.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  /** Brings the shown URL up to date with the view (while the box is open). */
  update() {
    if (!this.open) return;
    const url = this.getUrl();
    if (this.input.value !== url) {
      this.input.value = url;
      this.status.textContent = "";
    }
  }

  /** Copies the URL: the Clipboard API where allowed, else the selection. */
  async copy() {
    const url = this.input.value;
    let copied = false;
    try {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        await navigator.clipboard.writeText(url);
        copied = true;
      }
    } catch (error) {
      copied = false;  // not allowed here: fall back to the selection
    }
    if (!copied) {
      this.input.focus();
      this.input.select();
      try {
        copied = document.execCommand("copy");
      } catch (error) {
        copied = false;
      }
    }
    this.status.textContent = copied ? "Copied" : "Press Ctrl+C to copy";
  }
}
