/*
 * tradingweb's page glue, loaded on every page after htmx and before Alpine.
 *
 * toast(message, kind): shows a toast; kind is "success", "error", "warning" or "info".
 * A server response can raise one with the header HX-Trigger: {"toast": {"message": "...", "kind": "success"}}.
 * layout(): the Alpine component of the base layout (sidebar collapse, phone menu).
 * Forms with data-loading disable their submit button and show a spinner while the page submits.
 */
(function () {
  "use strict";

  // Toast markup comes from the page: one <template id="toast-template-KIND"> per kind (components/toast.html).
  function dismiss(el) {
    if (!el || el.dataset.leaving) return;
    el.dataset.leaving = "1";
    el.style.transition = "opacity 150ms ease-in, transform 150ms ease-in";
    el.style.opacity = "0";
    el.style.transform = "translateY(4px)";
    setTimeout(() => el.remove(), 160);
  }

  function arm(el) {
    el.querySelector("[data-dismiss]")?.addEventListener("click", () => dismiss(el));
    setTimeout(() => dismiss(el), Number(el.dataset.timeout) || 5000);
  }

  function toast(message, kind) {
    const region = document.getElementById("toasts");
    const template =
      document.getElementById(`toast-template-${kind}`) || document.getElementById("toast-template-info");
    if (!region || !template) return null;
    const el = template.content.firstElementChild.cloneNode(true);
    el.querySelector("[data-message]").textContent = String(message);
    region.appendChild(el);
    arm(el);
    return el;
  }
  window.toast = toast;

  // The base layout: sidebar collapsed or not (remembered; tablets start collapsed), phone menu open or not.
  window.layout = function layout() {
    const saved = localStorage.getItem("tw.sidebarCollapsed");
    return {
      collapsed: saved === null ? window.matchMedia("(max-width: 1279px)").matches : saved === "1",
      menuOpen: false,
      toggleSidebar() {
        this.collapsed = !this.collapsed;
        localStorage.setItem("tw.sidebarCollapsed", this.collapsed ? "1" : "0");
      },
    };
  };

  function requestFailed(event) {
    const xhr = event.detail.xhr;
    const status = xhr ? `${xhr.status} ${xhr.statusText}`.trim() : "";
    toast(status ? `The server answered ${status}. Nothing was changed.` : "The request failed.", "error");
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("#toasts [data-kind]").forEach(arm);

    document.body.addEventListener("toast", (event) => toast(event.detail.message, event.detail.kind));
    document.body.addEventListener("htmx:responseError", requestFailed);
    document.body.addEventListener("htmx:sendError", () =>
      toast("Could not reach the server. Check your connection and try again.", "error"),
    );

    // A thin progress bar at the top while any htmx request is in flight.
    let inFlight = 0;
    const setBusy = () => document.documentElement.classList.toggle("is-busy", inFlight > 0);
    document.body.addEventListener("htmx:beforeRequest", () => {
      inFlight += 1;
      setBusy();
    });
    document.body.addEventListener("htmx:afterRequest", () => {
      inFlight = Math.max(0, inFlight - 1);
      setBusy();
    });

    document.querySelectorAll("form[data-loading]").forEach((form) => {
      form.addEventListener("submit", () => {
        const button = form.querySelector("[type=submit]");
        if (!button) return;
        button.disabled = true;
        button.querySelector(".htmx-indicator")?.classList.replace("htmx-indicator", "inline-flex");
        document.documentElement.classList.add("is-busy");
      });
    });
  });
})();
