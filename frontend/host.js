// The guest side of TensorBoard's plugin messaging (what TensorBoard's own
// plugin_lib does; TensorBoard does not serve it). The panel makes a
// MessageChannel and posts "experimental.bootstrap" with one of its ports to
// the parent page, which keeps the port for this iframe. Both sides then send
// JSON strings {type, id, payload, error, isReply} through the channel:
// requests (answered by a message with the same type and id and isReply set)
// and broadcasts (which TensorBoard also expects an answer to).

/** The message types of TensorBoard 2.21. */
export const MessageType = Object.freeze({
  GET_RUNS: "experimental.GetRuns",                // request: every run name
  RUNS_CHANGED: "experimental.RunsChanged",        // broadcast: the run names
  GET_URL_DATA: "experimental.GetURLPluginData",   // request: the p.<plugin>.* hash keys
  DATA_RELOADED: "experimental.DataReloaded",      // broadcast: auto-reload, reload button
});

const BOOTSTRAP = "experimental.bootstrap";

/** Milliseconds a request waits for its answer before giving up. */
export const REQUEST_TIMEOUT_MS = 3000;

/**
 * The parent window when the panel runs inside a page of its own origin (the
 * TensorBoard page), else null: opened directly, or framed by another site.
 */
export function sameOriginParent(win = window) {
  try {
    const parent = win.parent;
    if (!parent || parent === win) return null;
    return parent.location.origin === win.location.origin ? parent : null;
  } catch (error) {
    return null;  // a cross-origin parent: reading its location throws
  }
}

export class Host {
  /**
   * Joins TensorBoard's messaging when the panel is inside TensorBoard's page;
   * otherwise `connected` is false, requests answer undefined and listeners
   * are never called.
   */
  constructor(win = window) {
    this.port = null;
    this.nextId = 0;
    this.waiting = new Map();   // id -> {resolve, timer}
    this.listeners = new Map(); // type -> handler(payload)
    const parent = sameOriginParent(win);
    if (!parent) return;
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.port.addEventListener("message", (event) => this._onMessage(event.data));
    this.port.start();
    parent.postMessage(BOOTSTRAP, win.location.origin, [channel.port2]);
  }

  get connected() {
    return this.port !== null;
  }

  /** Calls `handler(payload)` on every message of `type` from TensorBoard. */
  listen(type, handler) {
    this.listeners.set(type, handler);
  }

  /**
   * Sends a request; resolves to the answer's payload, or to undefined when
   * not connected, on an error answer or after `timeoutMs` without one.
   */
  request(type, payload = null, {timeoutMs = REQUEST_TIMEOUT_MS} = {}) {
    if (!this.port) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(id, {resolve, timer});
      this._post({type, id, payload, error: null, isReply: false});
    });
  }

  _post(message) {
    this.port.postMessage(JSON.stringify(message));
  }

  async _onMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (error) {
      return;  // not of this protocol
    }
    if (!message || typeof message !== "object") return;
    const {type, id, payload, error, isReply} = message;
    if (isReply) {
      const waiting = this.waiting.get(id);
      if (!waiting) return;
      this.waiting.delete(id);
      clearTimeout(waiting.timer);
      waiting.resolve(error ? undefined : payload);
      return;
    }
    let result = null;
    let failure = null;
    const handler = this.listeners.get(type);
    if (handler) {
      try {
        const value = await handler(payload);
        result = value === undefined ? null : value;
      } catch (caught) {
        failure = String((caught && caught.message) || caught);
      }
    }
    this._post({type, id, payload: result, error: failure, isReply: true});
  }
}
