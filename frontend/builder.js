/*
 * The workflow builder (templates/workflows/workflow_builder.html): an Alpine component holding the
 * workflow being edited. The server is the only judge of validity: every change is sent to
 * POST /api/workflows/validate/ and its errors are shown on the nodes, the fields and the list;
 * saving PATCHes /api/workflows/<id>/, which makes a new version.
 *
 * Loaded without `defer` before Alpine, so window.workflowBuilder exists when Alpine starts.
 */
(function () {
  "use strict";

  const VALIDATE_DELAY_MS = 400;
  const WHOLE_REFERENCE = /^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$/;
  const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i;

  // How each step type looks on the canvas (class names spelled out for Tailwind).
  const LOOKS = {
    fetch_data: { icon: "circle-stack", tile: "bg-sky-500/15 text-sky-300 ring-sky-400/30" },
    generate_chart: { icon: "chart-bar", tile: "bg-cyan-500/15 text-cyan-300 ring-cyan-400/30" },
    ai_analyze: { icon: "sparkles", tile: "bg-violet-500/15 text-violet-300 ring-violet-400/30" },
    consolidate: { icon: "square-3-stack-3d", tile: "bg-indigo-500/15 text-indigo-300 ring-indigo-400/30" },
    decide: { icon: "scale", tile: "bg-fuchsia-500/15 text-fuchsia-300 ring-fuchsia-400/30" },
    agent_team: { icon: "user-group", tile: "bg-fuchsia-500/15 text-fuchsia-300 ring-fuchsia-400/30" },
    validate_risk: { icon: "shield-check", tile: "bg-amber-500/15 text-amber-300 ring-amber-400/30" },
    place_order: { icon: "arrows-right-left", tile: "bg-emerald-500/15 text-emerald-300 ring-emerald-400/30" },
    wait: { icon: "clock", tile: "bg-slate-500/15 text-slate-300 ring-slate-400/30" },
    custom_code: { icon: "code-bracket", tile: "bg-slate-500/15 text-slate-300 ring-slate-400/30" },
    condition: { icon: "share", tile: "bg-orange-500/15 text-orange-300 ring-orange-400/30" },
  };
  const BRANCH_COLOURS = { then: "#34d399", else: "#fb7185" };
  const UNKNOWN_LOOK = { icon: "question-mark-circle", tile: "bg-rose-500/15 text-rose-300 ring-rose-400/30" };
  // Config kinds left out of a node's one-line summary: long text reads badly there.
  const LONG_KINDS = new Set(["prompt", "code", "agents", "text"]);

  function escapeAttribute(text) {
    return String(text).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function clone(value) {
    return JSON.parse(JSON.stringify(value));
  }

  function isEmpty(value) {
    return value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
  }

  function show(value) {
    if (Array.isArray(value)) return value.join(", ");
    if (value === true) return "yes";
    if (value === false) return "no";
    return String(value);
  }

  window.workflowBuilder = function workflowBuilder(dataId) {
    const data = readJson(dataId);
    const definition = data.definition;
    return {
      id: definition.id,
      name: definition.name,
      description: definition.description,
      type: definition.type,
      status: definition.status,
      version: definition.version,
      steps: clone(definition.steps),
      parameters: clone(definition.parameters),
      catalogue: Object.fromEntries(data.catalogue.map((entry) => [entry.type, entry])),
      catalogueList: data.catalogue,
      builtins: data.builtins,
      urls: data.urls,
      csrf: data.csrf,
      iconUrl: data.icon_url,
      selectedId: null,
      errors: [],
      checked: false,
      validating: false,
      saving: false,
      activating: false,
      note: "",
      pendingDelete: null,
      paletteOpen: false,
      focusedField: null,
      branchMarkup: "",
      snapshot: "",
      validateTimer: null,
      dragNext: null,

      init() {
        this.snapshot = this.serialized();
        this.$watch(
          () => JSON.stringify([this.steps, this.parameters]),
          () => {
            this.scheduleValidation();
            this.$nextTick(() => this.drawBranches());
          },
        );
        window.Sortable.create(this.$refs.nodes, {
          handle: "[data-drag-handle]",
          draggable: "[data-step-node]",
          animation: 150,
          ghostClass: "opacity-40",
          onStart: (event) => {
            this.dragNext = event.item.nextSibling;
          },
          onEnd: (event) => {
            // Put the node back where Alpine rendered it, then let Alpine re-render from the new order.
            event.from.insertBefore(event.item, this.dragNext);
            this.moveTo(event.oldDraggableIndex, event.newDraggableIndex);
          },
        });
        new ResizeObserver(() => this.drawBranches()).observe(this.$refs.canvas);
        window.addEventListener("beforeunload", (event) => {
          if (this.dirty) event.preventDefault();
        });
        this.$nextTick(() => this.drawBranches());
        this.validate();
      },

      serialized() {
        return JSON.stringify([this.name, this.description, this.type, this.steps, this.parameters]);
      },

      get dirty() {
        return this.serialized() !== this.snapshot;
      },

      // --- steps -----------------------------------------------------------------

      look(type) {
        return LOOKS[type] || UNKNOWN_LOOK;
      },

      icon(type) {
        return `${this.iconUrl}#${this.look(type).icon}`;
      },

      typeLabel(type) {
        return this.catalogue[type] ? this.catalogue[type].label : `Unknown type ${type}`;
      },

      get selected() {
        return this.steps.find((step) => step.id === this.selectedId) || null;
      },

      get selectedIndex() {
        return this.steps.findIndex((step) => step.id === this.selectedId);
      },

      fields(step) {
        const entry = step && this.catalogue[step.type];
        return entry ? Object.entries(entry.schema.properties).map(([name, schema]) => ({ name, ...schema })) : [];
      },

      select(stepId) {
        this.selectedId = stepId;
        this.focusedField = null;
      },

      unusedId(type) {
        const taken = new Set(this.steps.map((step) => step.id));
        if (!taken.has(type)) return type;
        let number = 2;
        while (taken.has(`${type}_${number}`)) number += 1;
        return `${type}_${number}`;
      },

      addStep(type) {
        const entry = this.catalogue[type];
        const config = {};
        for (const [name, value] of Object.entries(clone(entry.defaults))) {
          if (value !== null) config[name] = value;
        }
        const step = { id: this.unusedId(type), type, name: entry.label, config };
        const at = this.selectedIndex >= 0 ? this.selectedIndex + 1 : this.steps.length;
        this.steps.splice(at, 0, step);
        this.paletteOpen = false;
        this.select(step.id);
        this.$nextTick(() => {
          document.querySelector(`[data-step-id="${step.id}"]`)?.scrollIntoView({ block: "nearest", behavior: "smooth" });
        });
      },

      askDelete(stepId) {
        this.pendingDelete = stepId;
      },

      confirmDelete() {
        const stepId = this.pendingDelete;
        this.pendingDelete = null;
        this.steps = this.steps.filter((step) => step.id !== stepId);
        for (const step of this.steps) {
          if (step.type !== "condition") continue;
          for (const branch of ["then", "else"]) {
            if (Array.isArray(step.config[branch])) {
              step.config[branch] = step.config[branch].filter((target) => target !== stepId);
            }
          }
        }
        if (this.selectedId === stepId) this.selectedId = null;
        window.toast(`Step ${stepId} removed. Save to keep the change.`, "info");
      },

      moveTo(from, to) {
        if (from === to || from < 0 || to < 0 || to >= this.steps.length) return;
        const [step] = this.steps.splice(from, 1);
        this.steps.splice(to, 0, step);
      },

      move(stepId, delta) {
        const from = this.steps.findIndex((step) => step.id === stepId);
        this.moveTo(from, from + delta);
      },

      renameId(step, newId) {
        const oldId = step.id;
        newId = newId.trim();
        if (!newId || newId === oldId) return;
        step.id = newId;
        for (const other of this.steps) {
          if (other.type !== "condition") continue;
          for (const branch of ["then", "else"]) {
            if (Array.isArray(other.config[branch])) {
              other.config[branch] = other.config[branch].map((target) => (target === oldId ? newId : target));
            }
          }
        }
        if (this.selectedId === oldId) this.selectedId = newId;
      },

      summary(step) {
        const parts = [];
        for (const field of this.fields(step)) {
          const value = step.config[field.name];
          if (LONG_KINDS.has(field.kind) || isEmpty(value)) continue;
          if (field.kind === "multi_choice" && Array.isArray(value) && field.choices && value.length === field.choices.length) {
            parts.push(`${field.label}: all`);
          } else {
            parts.push(`${field.label}: ${show(value)}`);
          }
          if (parts.length === 3) break;
        }
        if (step.type === "condition" && step.config.expression) return `if ${step.config.expression}`;
        if (step.type === "agent_team" && Array.isArray(step.config.agents)) {
          const enabled = step.config.agents.filter((agent) => agent.enabled !== false).length;
          parts.unshift(`${enabled} agents`);
        }
        return parts.join(" · ");
      },

      // Which condition branches lead to a step: [{from, branch}] for the node's tags.
      branchesInto(stepId) {
        const found = [];
        for (const step of this.steps) {
          if (step.type !== "condition") continue;
          for (const branch of ["then", "else"]) {
            if ((step.config[branch] || []).includes(stepId)) found.push({ from: step.name || step.id, branch });
          }
        }
        return found;
      },

      // Labels produced by steps before the selected one, for reference fields ("fetch", "chart", "analysis").
      labelsBefore(namespace) {
        const produces = { fetch_data: "fetch", generate_chart: "chart", ai_analyze: "analysis", consolidate: "analysis" };
        const fallback = { generate_chart: "source", ai_analyze: "input" };
        const labels = [];
        for (const step of this.steps.slice(0, Math.max(this.selectedIndex, 0))) {
          if (produces[step.type] !== namespace) continue;
          const label = step.config.label || step.config[fallback[step.type]] || (step.type === "consolidate" ? "consolidated" : "");
          if (label && !labels.includes(label)) labels.push(label);
        }
        return labels;
      },

      laterSteps() {
        return this.steps.slice(this.selectedIndex + 1);
      },

      referenceChoices(field) {
        const available = field.references === "step" ? this.laterSteps().map((step) => step.id) : this.labelsBefore(field.references);
        const current = this.selected.config[field.name] || [];
        return [...available, ...current.filter((value) => !available.includes(value))];
      },

      // --- config values ---------------------------------------------------------

      numberText(value) {
        return value === undefined || value === null ? "" : String(value);
      },

      setNumber(name, raw) {
        const text = raw.trim();
        if (text === "") delete this.selected.config[name];
        else this.selected.config[name] = NUMBER.test(text) ? Number(text) : text;
      },

      listHas(name, value) {
        return (this.selected.config[name] || []).includes(value);
      },

      toggleInList(name, value, on) {
        const list = (this.selected.config[name] || []).filter((item) => item !== value);
        if (on) list.push(value);
        this.selected.config[name] = list;
      },

      addToList(name, event) {
        const value = event.target.value.trim();
        if (value && !this.listHas(name, value)) this.toggleInList(name, value, true);
        event.target.value = "";
      },

      reference(parameterName) {
        return `{{${parameterName}}}`;
      },

      // A select's options: the field's choices, a {{reference}} per parameter, and the current value if it is neither.
      selectChoices(field) {
        const choices = [...(field.choices || []), ...this.parameterNames.map((name) => this.reference(name))];
        const current = this.selected.config[field.name];
        if (!isEmpty(current) && !choices.includes(current)) choices.push(current);
        return choices;
      },

      get parameterNames() {
        const declared = this.parameters.map((parameter) => parameter.name).filter(Boolean);
        return [...declared, ...this.builtins.map((parameter) => parameter.name).filter((name) => !declared.includes(name))];
      },

      insertParameter(field, parameterName) {
        const reference = this.reference(parameterName);
        const current = this.selected.config[field.name];
        const appends = ["textarea", "code"].includes(field.widget) && typeof current === "string" && current.trim();
        this.selected.config[field.name] = appends ? `${current} ${reference}` : reference;
      },

      // "Uses parameter risk_per_trade (default 0.01)" when a value is one whole {{reference}}.
      parameterHint(value) {
        const match = typeof value === "string" && value.match(WHOLE_REFERENCE);
        if (!match) return "";
        const declared = [...this.parameters, ...this.builtins].find((parameter) => parameter.name === match[1]);
        if (!declared) return `{{${match[1]}}} is not a declared parameter: add it under Parameters.`;
        const fallback = isEmpty(declared.default) ? "none" : show(declared.default);
        return `Takes the parameter ${match[1]} (default ${fallback}); strategies and runs may override it.`;
      },

      agentsOf(name) {
        return this.selected.config[name] || [];
      },

      addAgent(name) {
        const agents = this.agentsOf(name);
        this.selected.config[name] = [...agents, { name: `Agent${agents.length + 1}`, enabled: true }];
      },

      removeAgent(name, index) {
        this.selected.config[name] = this.agentsOf(name).filter((_, position) => position !== index);
      },

      setAgentNumber(agent, key, raw) {
        const text = raw.trim();
        if (text === "") delete agent[key];
        else agent[key] = NUMBER.test(text) ? Number(text) : text;
      },

      // --- parameters ------------------------------------------------------------

      addParameter() {
        let number = this.parameters.length + 1;
        while (this.parameters.some((parameter) => parameter.name === `param_${number}`)) number += 1;
        this.parameters.push({ name: `param_${number}`, type: "string", default: "", description: "" });
      },

      removeParameter(index) {
        this.parameters.splice(index, 1);
      },

      defaultText(parameter) {
        const value = parameter.default;
        if (Array.isArray(value)) return value.join(", ");
        return value === undefined || value === null ? "" : String(value);
      },

      setDefault(parameter, raw) {
        const text = raw.trim();
        if (parameter.type === "number") parameter.default = text === "" ? null : NUMBER.test(text) ? Number(text) : text;
        else if (parameter.type === "list") parameter.default = text.split(",").map((item) => item.trim()).filter(Boolean);
        else parameter.default = raw;
      },

      retype(parameter, type) {
        parameter.type = type;
        if (type === "boolean") parameter.default = Boolean(parameter.default);
        else this.setDefault(parameter, Array.isArray(parameter.default) ? parameter.default.join(", ") : this.defaultText(parameter));
        if (type === "boolean") delete parameter.choices;
      },

      // --- validation and errors -------------------------------------------------

      scheduleValidation() {
        clearTimeout(this.validateTimer);
        this.validateTimer = setTimeout(() => this.validate(), VALIDATE_DELAY_MS);
      },

      async request(url, method, body) {
        const response = await fetch(url, {
          method,
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": this.csrf },
          credentials: "same-origin",
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        let payload = {};
        try {
          payload = await response.json();
        } catch (error) {
          payload = { detail: `The server answered ${response.status} ${response.statusText}.` };
        }
        return { ok: response.ok, status: response.status, payload };
      },

      async validate() {
        this.validating = true;
        try {
          const answer = await this.request(this.urls.validate, "POST", { steps: this.steps, parameters: this.parameters });
          this.errors = answer.ok ? answer.payload.errors : this.serializerErrors(answer.payload);
          this.checked = true;
        } catch (error) {
          window.toast("Could not reach the server to check the workflow. Check your connection.", "error");
        } finally {
          this.validating = false;
        }
      },

      // A serializer's {"field": ["message"]} as the builder's error list.
      serializerErrors(payload) {
        if (Array.isArray(payload.errors)) return payload.errors;
        return Object.entries(payload).flatMap(([field, messages]) =>
          (Array.isArray(messages) ? messages : [messages]).map((message) => ({ step_id: "", field, message: String(message) })),
        );
      },

      stepErrors(stepId) {
        return this.errors.filter((error) => error.step_id === stepId);
      },

      fieldErrors(stepId, field) {
        return this.errors.filter((error) => error.step_id === stepId && error.field === field).map((error) => error.message);
      },

      // Errors of a step that no field of the panel shows (its id, type, name or keys).
      otherStepErrors(step) {
        const shown = new Set(this.fields(step).map((field) => field.name));
        return this.stepErrors(step.id).filter((error) => !shown.has(error.field));
      },

      get workflowErrors() {
        return this.errors.filter((error) => !error.step_id);
      },

      parameterErrors(index) {
        const prefix = `parameters[${index}]`;
        return this.errors
          .filter((error) => !error.step_id && (error.field === prefix || error.field.startsWith(`${prefix}.`)))
          .map((error) => `${error.field.slice(prefix.length + 1) || "parameter"}: ${error.message}`);
      },

      errorPlace(error) {
        if (!error.step_id) return error.field.startsWith("parameters") ? "Parameters" : "Workflow";
        const step = this.steps.find((candidate) => candidate.id === error.step_id);
        return step ? step.name || step.id : error.step_id;
      },

      showError(error) {
        if (error.step_id && this.steps.some((step) => step.id === error.step_id)) {
          this.select(error.step_id);
          document.querySelector(`[data-step-id="${error.step_id}"]`)?.scrollIntoView({ block: "center", behavior: "smooth" });
        } else if (error.field.startsWith("parameters")) {
          this.$refs.parameters.scrollIntoView({ block: "start", behavior: "smooth" });
        }
      },

      // --- save and activate -----------------------------------------------------

      async save() {
        this.saving = true;
        const before = this.version;
        try {
          const answer = await this.request(this.urls.detail, "PATCH", {
            name: this.name,
            description: this.description,
            type: this.type,
            steps: this.steps,
            parameters: this.parameters,
            note: this.note,
          });
          if (!answer.ok) {
            this.errors = this.serializerErrors(answer.payload);
            window.toast(answer.payload.detail || "The workflow was not saved: fix the problems listed.", "error");
            return;
          }
          this.version = answer.payload.version;
          this.status = answer.payload.status;
          this.snapshot = this.serialized();
          this.note = "";
          window.toast(this.version === before ? "Saved. Steps and parameters are unchanged, so no new version." : `Saved as version ${this.version}.`, "success");
        } catch (error) {
          window.toast("Could not reach the server: nothing was saved.", "error");
        } finally {
          this.saving = false;
        }
      },

      async activate() {
        this.activating = true;
        try {
          const answer = await this.request(this.urls.activate, "POST");
          if (!answer.ok) {
            this.errors = this.serializerErrors(answer.payload);
            window.toast(answer.payload.detail || "The workflow cannot be activated yet.", "error");
            return;
          }
          this.status = answer.payload.status;
          window.toast("Workflow activated: strategies and schedules can run it.", "success");
        } catch (error) {
          window.toast("Could not reach the server: the workflow was not activated.", "error");
        } finally {
          this.activating = false;
        }
      },

      // --- condition branches ----------------------------------------------------

      // Curves from each condition node to the steps of its then (green) and else (red, dashed) branches,
      // drawn into the SVG over the canvas (Alpine's x-for does not run inside SVG, so this writes markup).
      drawBranches() {
        const canvas = this.$refs.canvas;
        if (!canvas) return;
        const origin = canvas.getBoundingClientRect();
        const card = (stepId) => canvas.querySelector(`[data-step-id="${CSS.escape(stepId)}"] [data-node-card]`);
        const parts = [];
        let lane = 0;
        for (const step of this.steps) {
          if (step.type !== "condition" || !card(step.id)) continue;
          const from = card(step.id).getBoundingClientRect();
          for (const branch of ["then", "else"]) {
            for (const target of step.config[branch] || []) {
              const node = card(target);
              if (!node) continue;
              const to = node.getBoundingClientRect();
              const startX = from.right - origin.left;
              const startY = from.top - origin.top + from.height / 2 + (branch === "then" ? -7 : 7);
              const endX = to.right - origin.left + 4;
              const endY = to.top - origin.top + to.height / 2;
              const bend = 22 + 12 * (lane % 4);
              lane += 1;
              const colour = BRANCH_COLOURS[branch];
              const dash = branch === "else" ? ' stroke-dasharray="5 4"' : "";
              parts.push(
                `<path d="M ${startX} ${startY} C ${startX + bend} ${startY}, ${endX + bend} ${endY}, ${endX} ${endY}" ` +
                  `fill="none" stroke="${colour}" stroke-width="1.5"${dash} marker-end="url(#branch-arrow-${branch})" ` +
                  `data-branch="${branch}" data-from="${escapeAttribute(step.id)}" data-to="${escapeAttribute(target)}"/>`,
                `<text x="${startX + 4}" y="${startY - 3}" fill="${colour}" font-size="10" font-weight="600">${branch}</text>`,
              );
            }
          }
        }
        const markers = Object.entries(BRANCH_COLOURS)
          .map(
            ([branch, colour]) =>
              `<marker id="branch-arrow-${branch}" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">` +
              `<path d="M 0 0 L 8 4 L 0 8 z" fill="${colour}"/></marker>`,
          )
          .join("");
        this.branchMarkup = `<defs>${markers}</defs>${parts.join("")}`;
      },
    };
  };
})();
