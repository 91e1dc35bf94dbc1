/*
 * The orders page: the manual order form's inline checks (the same rules the server applies, so
 * most mistakes are caught before a round trip), the price field following the order type, and
 * answers that carry their own toast (a 409 on cancel) shown as that toast rather than a generic error.
 */
(function () {
  "use strict";

  const WHOLE_NUMBER = /^\d+$/;
  const PRICE = /^\d*\.?\d+$/;

  // Each rule returns an error message or "" and mirrors broker.serializers_orders.ManualOrderSerializer.
  const RULES = {
    symbol: (form) => (form.elements.symbol.value.trim() ? "" : "Give the instrument's symbol, e.g. AAPL."),
    quantity: (form) => {
      const value = form.elements.quantity.value.trim();
      if (!value) return "Give a quantity.";
      if (!WHOLE_NUMBER.test(value)) return "Quantity must be a whole number of shares.";
      return Number(value) >= 1 ? "" : "Quantity must be at least 1 share.";
    },
    price: (form) => {
      if (orderType(form) !== "LMT") return "";
      const value = form.elements.price.value.trim();
      return PRICE.test(value) && Number(value) > 0 ? "" : "A LMT order needs a positive price.";
    },
  };

  function orderType(form) {
    return form.elements.order_type.value;
  }

  function clearError(input) {
    input.removeAttribute("aria-invalid");
    const field = input.closest(".field");
    field?.querySelectorAll("[data-client-error], [id$='_error']").forEach((el) => el.remove());
  }

  function showError(input, message) {
    clearError(input);
    input.setAttribute("aria-invalid", "true");
    const error = document.createElement("p");
    error.className = "field-error";
    error.dataset.clientError = "";
    error.id = `${input.id}_client_error`;
    error.textContent = message;
    input.setAttribute("aria-describedby", error.id);
    input.insertAdjacentElement("afterend", error);
  }

  function check(form, name) {
    const input = form.elements[name];
    const message = RULES[name](form);
    if (message) showError(input, message);
    else clearError(input);
    return !message;
  }

  function checkAll(form) {
    const results = Object.keys(RULES).map((name) => check(form, name));
    const firstInvalid = form.querySelector("[aria-invalid='true']");
    firstInvalid?.focus();
    return results.every(Boolean);
  }

  // MKT orders take no price: the field is disabled (so it is not sent) and its error cleared.
  function followOrderType(form) {
    const price = form.elements.price;
    const market = orderType(form) === "MKT";
    price.disabled = market;
    price.placeholder = market ? "Market price" : "0.00";
    form.querySelector("[data-price-field]")?.classList.toggle("opacity-50", market);
    if (market) clearError(price);
  }

  function prepare(form) {
    if (!form || form.dataset.prepared) return;
    form.dataset.prepared = "1";
    followOrderType(form);
    form.elements.order_type.addEventListener("change", () => followOrderType(form));
    for (const name of Object.keys(RULES)) {
      const input = form.elements[name];
      input.addEventListener("blur", () => form.dataset.checked && check(form, name));
      input.addEventListener("input", () => input.getAttribute("aria-invalid") && check(form, name));
    }
    form.elements.symbol.addEventListener("input", (event) => {
      event.target.value = event.target.value.toUpperCase();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    prepare(document.querySelector("[data-order-form]"));

    document.body.addEventListener("htmx:beforeRequest", (event) => {
      const form = event.detail.elt;
      if (!form.matches?.("[data-order-form]")) return;
      form.dataset.checked = "1";
      if (!checkAll(form)) event.preventDefault();
    });

    document.body.addEventListener("htmx:afterSwap", () => prepare(document.querySelector("[data-order-form]")));

    // A refusal answered with its own toast (HX-Trigger) is that toast, not "the server answered 409".
    document.body.addEventListener("htmx:beforeSwap", (event) => {
      const detail = event.detail;
      if (detail.elt.closest?.("[data-own-errors]") && detail.xhr.getResponseHeader("HX-Trigger")) {
        detail.isError = false;
      }
    });
  });
})();
