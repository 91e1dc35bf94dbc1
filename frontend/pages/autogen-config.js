/*
 * The strategy form's AutoGen team section (templates/workflows/_autogen_config.html).
 *
 * Reads the agent templates (/api/autogen/agent-templates/), the model providers a trader may pick
 * (/api/model-providers/: names and models, never a URL) and the strategy's effective team
 * (/api/strategies/<id>/autogen-config/), lets the trader switch optional agents on and off (the
 * required ones stay on), edit each agent in a dialog (prompt, provider and model picked from
 * lists, temperature 0–2, max iterations) and the team's provider, model, max rounds, human
 * approval and code execution. Before saving, the
 * same rules as agents.team_config.validate_autogen_config are checked here; the server checks them
 * again and its field errors ("agents.RiskManager.temperature") are shown at the field.
 * Saved with its own button (PUT), and before the strategy form submits when something changed.
 * Loaded before Alpine (not deferred): it defines the Alpine component autogenConfig.
 */
(function () {
  "use strict";

  // Mirrors agents/team_config.py.
  const LIMITS = { maxRounds: 50, maxIterations: 10, promptChars: 20000, modelChars: 100 };

  function isWhole(value, low, high) {
    return Number.isInteger(value) && value >= low && value <= high;
  }

  window.autogenConfig = function autogenConfig(strategyId) {
    return {
      strategyId,
      loading: Boolean(strategyId),
      loadError: "",
      templates: {},
      agents: [],
      providers: [],
      team: { provider: "", model: "", max_rounds: 10, human_approval: false, code_execution: false },
      errors: {},
      editing: null,
      saving: false,
      saved: "",
      submitting: false,

      async init() {
        if (!this.strategyId) return;
        const [templates, providers, config] = await Promise.all([
          window.tw.fetchJson("/api/autogen/agent-templates/"),
          window.tw.fetchJson("/api/model-providers/"),
          window.tw.fetchJson(`/api/strategies/${this.strategyId}/autogen-config/`),
        ]);
        this.loading = false;
        if (!templates.ok || !providers.ok || !config.ok) {
          this.loadError = "The agent team could not be read. Reload the page to try again.";
          return;
        }
        for (const template of templates.body) this.templates[template.name] = template;
        this.providers = providers.body;
        this.agents = config.body.agents.map((agent) => ({ ...agent, temperature: Number(agent.temperature) }));
        this.team = {
          provider: config.body.provider || "",
          model: config.body.model,
          max_rounds: config.body.max_rounds,
          human_approval: config.body.human_approval,
          code_execution: config.body.code_execution,
        };
        this.saved = JSON.stringify(this.payload());
        this.watchSubmit();
      },

      get dirty() {
        return !this.loading && !this.loadError && this.saved !== JSON.stringify(this.payload());
      },

      get enabledCount() {
        return this.agents.filter((agent) => agent.enabled).length;
      },

      template(name) {
        return this.templates[name] || {};
      },

      // The models on offer where `providerName` points (empty: the default provider, listed first),
      // with `current` kept when it is not among them, so a stored choice is never dropped unseen.
      modelChoices(providerName, current) {
        const provider = this.providers.find((item) => item.name === providerName) || this.providers[0];
        const models = provider ? [...provider.models] : [];
        if (current && !models.includes(current)) models.push(current);
        return models;
      },

      agentProvider(agent) {
        return agent.provider || this.team.provider;
      },

      // A new provider offers other models: a model it does not offer goes back to the default.
      pickProvider(holder, providerName) {
        holder.provider = providerName;
        const provider = this.providers.find((item) => item.name === (providerName || this.team.provider));
        if (holder.model && provider && !provider.models.includes(holder.model)) holder.model = "";
      },

      agentErrors(name) {
        const prefix = `agents.${name}.`;
        return Object.entries(this.errors)
          .filter(([key]) => key.startsWith(prefix))
          .map(([key, messages]) => `${key.slice(prefix.length).replace("_", " ")}: ${messages.join(" ")}`);
      },

      fieldError(name, field) {
        return (this.errors[`agents.${name}.${field}`] || []).join(" ");
      },

      // What the API stores: only the settings a person can change; a prompt equal to the template's is left out.
      payload() {
        return {
          agents: this.agents.map((agent) => {
            const entry = {
              name: agent.name,
              enabled: agent.required ? true : Boolean(agent.enabled),
              provider: agent.provider || "",
              model: agent.model || "",
              temperature: Number(agent.temperature),
              max_iterations: Number(agent.max_iterations),
            };
            if (agent.system_prompt !== this.template(agent.name).default_prompt) entry.system_prompt = agent.system_prompt;
            return entry;
          }),
          provider: this.team.provider || "",
          model: this.team.model || "",
          max_rounds: Number(this.team.max_rounds),
          human_approval: Boolean(this.team.human_approval),
          code_execution: Boolean(this.team.code_execution),
        };
      },

      validate() {
        const errors = {};
        const add = (key, message) => (errors[key] = [...(errors[key] || []), message]);
        const config = this.payload();
        if (!isWhole(config.max_rounds, 1, LIMITS.maxRounds)) add("max_rounds", `must be a whole number from 1 to ${LIMITS.maxRounds}`);
        if (config.model.length > LIMITS.modelChars) add("model", `must be at most ${LIMITS.modelChars} characters`);
        for (const agent of config.agents) {
          const key = (field) => `agents.${agent.name}.${field}`;
          if (!agent.enabled && this.agents.find((item) => item.name === agent.name)?.required) {
            add(key("enabled"), `${agent.name} is required and cannot be disabled`);
          }
          if (!Number.isFinite(agent.temperature) || agent.temperature < 0 || agent.temperature > 2) {
            add(key("temperature"), "must be a number from 0 to 2");
          }
          if (!isWhole(agent.max_iterations, 1, LIMITS.maxIterations)) {
            add(key("max_iterations"), `must be a whole number from 1 to ${LIMITS.maxIterations}`);
          }
          if (agent.model.length > LIMITS.modelChars) add(key("model"), `must be at most ${LIMITS.modelChars} characters`);
          if ((agent.system_prompt || "").length > LIMITS.promptChars) {
            add(key("system_prompt"), `must be at most ${LIMITS.promptChars} characters, got ${agent.system_prompt.length}`);
          }
        }
        this.errors = errors;
        return Object.keys(errors).length === 0;
      },

      async save() {
        if (!this.validate()) {
          window.toast("The agent team has errors: see the marked fields.", "error");
          return false;
        }
        this.saving = true;
        const config = this.payload();
        const answer = await window.tw.fetchJson(`/api/strategies/${this.strategyId}/autogen-config/`, { method: "PUT", body: config });
        this.saving = false;
        if (!answer.ok) {
          this.errors = answer.status === 400 ? answer.body : { non_field_errors: window.tw.errorLines(answer.body) };
          window.toast("The server refused the agent team: see the marked fields.", "error");
          return false;
        }
        this.saved = JSON.stringify(config);
        window.toast("Agent team saved.", "success");
        return true;
      },

      // Closing an agent's dialog re-checks the team when errors are shown, so fixed fields lose their marks.
      closeAgent() {
        this.editing = null;
        if (Object.keys(this.errors).length) this.validate();
      },

      resetAgent(agent) {
        const template = this.template(agent.name);
        agent.system_prompt = template.default_prompt;
        agent.provider = "";
        agent.model = "";
        agent.temperature = 0.2;
        agent.max_iterations = 3;
      },

      // The strategy form's own submit saves the team first when it changed (and stops if it is refused).
      watchSubmit() {
        const form = this.$root.closest("form");
        if (!form) return;
        form.addEventListener(
          "submit",
          async (event) => {
            if (this.submitting || !this.dirty) return;
            event.preventDefault();
            event.stopImmediatePropagation();
            if (await this.save()) {
              this.submitting = true;
              form.requestSubmit();
            }
          },
          true,
        );
      },
    };
  };
})();
