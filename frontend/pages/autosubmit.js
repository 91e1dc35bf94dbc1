/* Filters that apply at once: changing a [data-autosubmit] control submits its form (the page shows it is busy). */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-autosubmit]").forEach((control) =>
      control.addEventListener("change", () => {
        document.documentElement.classList.add("is-busy");
        control.form.requestSubmit();
      }),
    );
  });
})();
