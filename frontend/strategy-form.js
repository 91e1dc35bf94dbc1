/*
 * The strategy form (templates/workflows/strategy_form.html): the workflow picker, the parameter
 * overrides of the picked workflow (each with a reset to the workflow's default) and the symbols
 * picker. The form posts plain fields; the server checks every value.
 *
 * Loaded without `defer` before Alpine, so window.strategyForm exists when Alpine starts.
 */
(function () {
  "use strict";

  const SYMBOL_SEPARATORS = /[\s,;]+/;

  function shown(value) {
    if (Array.isArray(value)) return value.join(", ");
    if (value === null || value === undefined) return "";
    return String(value);
  }

  window.strategyForm = function strategyForm(dataId) {
    const data = JSON.parse(document.getElementById(dataId).textContent);
    const overrides = {};
    for (const [name, value] of Object.entries(data.overrides || {})) overrides[name] = shown(value);
    return {
      workflows: data.workflows,
      selectedId: data.workflows.some((option) => option.id === data.selected) ? data.selected : "",
      overrides,
      parameterErrors: data.parameter_errors || {},
      symbols: (data.symbols || "").toUpperCase().split(SYMBOL_SEPARATORS).filter(Boolean),
      symbolText: "",
      pickerOpen: false,

      get workflow() {
        return this.workflows.find((option) => option.id === this.selectedId) || this.workflows[0];
      },

      pick(id) {
        this.selectedId = id;
        this.pickerOpen = false;
        const names = new Set(this.workflow.parameters.map((parameter) => parameter.name));
        for (const name of Object.keys(this.overrides)) {
          if (!names.has(name)) delete this.overrides[name];
        }
        this.$nextTick(() => this.$refs.pickerButton.focus());
      },

      // --- parameter overrides ---------------------------------------------------

      defaultText(parameter) {
        const text = shown(parameter.default);
        return text === "" ? "empty" : text;
      },

      isOverridden(name) {
        return this.overrides[name] !== undefined && this.overrides[name] !== "";
      },

      reset(name) {
        delete this.overrides[name];
      },

      // Errors about names the picked workflow has no input for (e.g. an override of another workflow's parameter).
      get strayErrors() {
        const names = new Set(this.workflow.parameters.map((parameter) => parameter.name));
        return Object.entries(this.parameterErrors)
          .filter(([name]) => !names.has(name))
          .map(([name, message]) => `${name}: ${message}`);
      },

      get overridesJson() {
        const chosen = {};
        for (const [name, value] of Object.entries(this.overrides)) {
          if (value !== undefined && value !== "") chosen[name] = value;
        }
        return JSON.stringify(chosen);
      },

      get overrideCount() {
        return Object.keys(this.overrides).filter((name) => this.isOverridden(name)).length;
      },

      // --- symbols ---------------------------------------------------------------

      addSymbols() {
        for (const symbol of this.symbolText.toUpperCase().split(SYMBOL_SEPARATORS)) {
          if (symbol && !this.symbols.includes(symbol)) this.symbols.push(symbol);
        }
        this.symbolText = "";
      },

      onSymbolKey(event) {
        if (["Enter", ",", " ", "Tab"].includes(event.key) && this.symbolText.trim()) {
          if (event.key !== "Tab") event.preventDefault();
          this.addSymbols();
        } else if (event.key === "Backspace" && !this.symbolText && this.symbols.length) {
          this.symbols.pop();
        }
      },

      removeSymbol(symbol) {
        this.symbols = this.symbols.filter((item) => item !== symbol);
      },

      // Symbols still typed in the box count too, so submitting never drops them.
      get symbolsValue() {
        const typed = this.symbolText.toUpperCase().split(SYMBOL_SEPARATORS).filter(Boolean);
        return [...this.symbols, ...typed.filter((symbol) => !this.symbols.includes(symbol))].join(",");
      },
    };
  };
})();
