/*
 * Live updates over the app's websockets (ws/monitor/, ws/executions/<id>/), shared by the pages.
 *
 * liveSocket(path, { onMessage, onOpen, status }) opens the socket and keeps it open: when it drops it
 * reconnects after 1, 2, 4 … (at most 30) seconds, and says so in the `status` element
 * (templates/execution/live_status.html). A refusal (4403 not signed in, 4404 not yours) is final.
 * onOpen runs after every (re)connect, so a page can re-read what it may have missed meanwhile.
 * Callers of the same path share one socket; each gets every message. Loaded on every page (base.html).
 *
 * Also: tw.fetchJson(url, options) (JSON with the CSRF token; resolves {ok, status, body}),
 * tw.fetchHtml(url) and tw.elapsed(seconds) ("1 min 05 s"), used by the page scripts.
 */
(function () {
  "use strict";

  const REFUSED = { 4403: "Signed out: reload the page", 4404: "Not available" };
  const MAX_DELAY = 30;

  function setStatus(element, state, text) {
    if (!element) return;
    const dot = element.querySelector("[data-live-dot]");
    const label = element.querySelector("[data-live-text]");
    element.dataset.state = state;
    if (label) label.textContent = text;
    if (dot) {
      dot.className = "h-2 w-2 rounded-full " + {
        live: "bg-emerald-400 animate-pulse",
        connecting: "bg-amber-400",
        down: "bg-rose-400",
      }[state];
    }
  }

  // One socket per path, shared by every caller on the page: the header's notification bell listens on
  // ws/monitor/ on every page, and the monitor and task pages open the same path for their own events.
  const connections = new Map();

  function liveSocket(path, options) {
    if (!connections.has(path)) connections.set(path, openConnection(path));
    return connections.get(path).subscribe(options);
  }

  // A subscriber's handler that throws is reported (as an uncaught error) without starving the others.
  function each(subscribers, call) {
    for (const options of subscribers) {
      try {
        call(options);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  function openConnection(path) {
    const subscribers = [];
    let state = ["connecting", "Connecting…"];
    let delay = 1;
    let socket = null;
    let timer = null;

    function announce(next, text) {
      state = [next, text];
      each(subscribers, (options) => setStatus(options.status, next, text));
    }

    function connect() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      announce("connecting", "Connecting…");
      socket = new WebSocket(`${scheme}//${window.location.host}${path}`);
      socket.addEventListener("open", () => {
        delay = 1;
        announce("live", "Live");
        each(subscribers, (options) => options.onOpen && options.onOpen(socket));
      });
      socket.addEventListener("message", (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (error) {
          console.warn("Ignoring a websocket message that is not JSON", error);
          return;
        }
        each(subscribers, (options) => options.onMessage(message, socket));
      });
      socket.addEventListener("close", (event) => {
        if (REFUSED[event.code]) {
          announce("down", REFUSED[event.code]);
          return;
        }
        let left = delay;
        announce("down", `Reconnecting in ${left} s`);
        clearInterval(timer);
        timer = setInterval(() => {
          left -= 1;
          if (left > 0) {
            announce("down", `Reconnecting in ${left} s`);
            return;
          }
          clearInterval(timer);
          connect();
        }, 1000);
        delay = Math.min(delay * 2, MAX_DELAY);
      });
    }

    function send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    }

    connect();
    return {
      subscribe(options) {
        subscribers.push(options);
        setStatus(options.status, state[0], state[1]);
        // A caller joining a socket that is already open still gets its onOpen (to read what it missed).
        if (socket.readyState === WebSocket.OPEN && options.onOpen) options.onOpen(socket);
        return { send };
      },
    };
  }

  function csrfToken() {
    const headers = document.body.getAttribute("hx-headers");
    try {
      return JSON.parse(headers)["X-CSRFToken"];
    } catch (error) {
      return "";
    }
  }

  async function fetchJson(url, options = {}) {
    const init = {
      method: options.method || "GET",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      return { ok: false, status: 0, body: { detail: "Could not reach the server. Check your connection." } };
    }
    let body = {};
    const text = await response.text();
    if (text) {
      try {
        body = JSON.parse(text);
      } catch (error) {
        body = { detail: `The server answered ${response.status} ${response.statusText}.` };
      }
    }
    return { ok: response.ok, status: response.status, body };
  }

  async function fetchHtml(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    return response.text();
  }

  function elementFrom(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function elapsed(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
    const total = Math.max(0, Math.floor(seconds));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const rest = String(total % 60).padStart(2, "0");
    if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
    if (minutes) return `${minutes} min ${rest} s`;
    return `${total} s`;
  }

  // Errors of a DRF answer as lines: "detail", field errors ("max_rounds: must be …") and risk reasons.
  function errorLines(body) {
    if (!body || typeof body !== "object") return [String(body || "The request failed.")];
    const lines = [];
    for (const [key, value] of Object.entries(body)) {
      const messages = Array.isArray(value) ? value : [value];
      for (const message of messages) {
        const text = typeof message === "object" ? JSON.stringify(message) : String(message);
        lines.push(key === "detail" || key === "non_field_errors" || key === "reasons" ? text : `${key}: ${text}`);
      }
    }
    return lines.length ? lines : ["The request failed."];
  }

  window.liveSocket = liveSocket;
  window.tw = { fetchJson, fetchHtml, elementFrom, elapsed, errorLines, csrfToken };
})();
