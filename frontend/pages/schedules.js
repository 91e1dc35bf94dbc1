/*
 * The schedules page (templates/execution/schedules.html): list, editor with a cron helper, toggles, delete.
 *
 * The helper builds a cron expression from "every N hours / days", "weekdays" or "every week on a day"
 * at a time; or the trader types one. As either changes, /api/schedules/preview/?cron= answers with
 * the sentence and the next five runs (UTC), or the error shown under the field. Saving POSTs
 * /api/workflows/<id>/schedule/ (new) or PATCHes /api/schedules/<id>/; the server's field errors
 * appear inline. After any change the list is re-read from schedules/rows/.
 * Loaded before Alpine (not deferred): it defines the Alpine component schedulesPage.
 */
(function () {
  "use strict";

  const FIELD_ERRORS = ["cron_expression", "strategy_id", "workflow"];

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  function runLabel(iso) {
    const date = new Date(iso);
    return `${date.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })}, ` +
      `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
  }

  // The helper's expression: minute hour day-of-month month day-of-week.
  function helperCron(helper) {
    const [hour, minute] = (helper.time || "00:00").split(":").map(Number);
    const n = Math.max(1, Math.floor(Number(helper.n) || 1));
    switch (helper.unit) {
      case "hours":
        return `${Math.min(59, Math.max(0, Number(helper.minute) || 0))} ${n === 1 ? "*" : `*/${n}`} * * *`;
      case "days":
        return `${minute} ${hour} ${n === 1 ? "*" : `*/${n}`} * *`;
      case "weekdays":
        return `${minute} ${hour} * * 1-5`;
      default:
        return `${minute} ${hour} * * ${helper.weekday}`;
    }
  }

  function blankForm(options) {
    const strategy = options.strategies[0];
    const workflow = (strategy && strategy.workflow) || options.workflows[0]?.id || "";
    return {
      id: null,
      workflow: String(workflow),
      strategy: strategy ? String(strategy.id) : "",
      cron_expression: "",
      description: "",
      enabled: true,
      allow_overlap: false,
      market_hours_only: false,
      priority: "normal",
    };
  }

  window.schedulesPage = function schedulesPage(optionsId, rowsUrl) {
    const options = JSON.parse(document.getElementById(optionsId).textContent);
    return {
      options,
      open: false,
      mode: "every",
      helper: { n: 1, unit: "weekdays", time: "14:30", minute: 0, weekday: "1" },
      form: blankForm(options),
      errors: {},
      generalErrors: [],
      description: "",
      nextRuns: [],
      previewing: false,
      saving: false,
      deleting: null,
      previewTimer: null,

      edit(detail) {
        this.errors = {};
        this.generalErrors = [];
        if (detail && detail.id) {
          this.form = { ...detail, workflow: String(detail.workflow), strategy: String(detail.strategy) };
          this.mode = "cron";
          this.preview();
        } else {
          this.form = blankForm(this.options);
          this.mode = "every";
          this.build();
        }
        this.open = true;
        this.$nextTick(() => document.getElementById("schedule-strategy")?.focus());
      },

      close() {
        this.open = false;
      },

      build() {
        if (this.mode !== "every") return;
        this.form.cron_expression = helperCron(this.helper);
        this.preview();
      },

      preview() {
        clearTimeout(this.previewTimer);
        this.previewTimer = setTimeout(() => this.readPreview(), 250);
      },

      async readPreview() {
        const expression = this.form.cron_expression.trim();
        if (!expression) {
          this.description = "";
          this.nextRuns = [];
          delete this.errors.cron_expression;
          return;
        }
        this.previewing = true;
        const answer = await window.tw.fetchJson(`/api/schedules/preview/?cron=${encodeURIComponent(expression)}`);
        if (expression !== this.form.cron_expression.trim()) return; // a newer preview is on its way
        this.previewing = false;
        if (answer.ok) {
          this.description = answer.body.description;
          this.nextRuns = answer.body.next_runs.map(runLabel);
          delete this.errors.cron_expression;
        } else {
          this.description = "";
          this.nextRuns = [];
          this.errors = { ...this.errors, cron_expression: window.tw.errorLines(answer.body.cron || answer.body).join(" ") };
        }
      },

      async save() {
        this.saving = true;
        this.errors = {};
        this.generalErrors = [];
        const body = {
          cron_expression: this.form.cron_expression.trim(),
          strategy_id: Number(this.form.strategy),
          enabled: this.form.enabled,
          description: this.form.description,
          allow_overlap: this.form.allow_overlap,
          market_hours_only: this.form.market_hours_only,
          priority: this.form.priority,
        };
        const answer = this.form.id
          ? await window.tw.fetchJson(`/api/schedules/${this.form.id}/`, { method: "PATCH", body })
          : await window.tw.fetchJson(`/api/workflows/${this.form.workflow}/schedule/`, { method: "POST", body });
        this.saving = false;
        if (!answer.ok) {
          this.showErrors(answer);
          return;
        }
        window.toast(this.form.id ? "Schedule saved." : `Schedule created: next run ${runLabel(answer.body.next_run_time)}.`, "success");
        this.open = false;
        await this.reload();
      },

      showErrors(answer) {
        if (answer.status === 404) {
          this.generalErrors = ["That workflow or schedule no longer exists. Reload the page."];
          return;
        }
        const rest = {};
        for (const [field, messages] of Object.entries(answer.body || {})) {
          if (FIELD_ERRORS.includes(field)) this.errors[field] = [].concat(messages).join(" ");
          else rest[field] = messages;
        }
        this.generalErrors = Object.keys(rest).length ? window.tw.errorLines(rest) : [];
      },

      async reload() {
        try {
          const fresh = window.tw.elementFrom(await window.tw.fetchHtml(rowsUrl));
          document.querySelector("[data-schedule-rows]").replaceWith(fresh);
        } catch (error) {
          window.toast("Saved, but the list could not be re-read: reload the page.", "warning");
        }
      },

      rowData(row) {
        return {
          id: Number(row.dataset.schedule),
          workflow: row.dataset.workflow,
          strategy: row.dataset.strategy,
          cron_expression: row.dataset.cron,
          description: row.dataset.description,
          enabled: row.dataset.enabled === "true",
          allow_overlap: row.dataset.allowOverlap === "true",
          market_hours_only: row.dataset.marketHours === "true",
          priority: row.dataset.priority,
        };
      },

      async onListClick(event) {
        const row = event.target.closest("[data-schedule]");
        if (!row) return;
        if (event.target.closest("[data-edit-schedule]")) {
          this.edit(this.rowData(row));
        } else if (event.target.closest("[data-delete-schedule]")) {
          this.deleting = Number(row.dataset.schedule);
        } else if (event.target.closest("[data-toggle-schedule]")) {
          const enabled = row.dataset.enabled !== "true";
          const answer = await window.tw.fetchJson(`/api/schedules/${row.dataset.schedule}/`, { method: "PATCH", body: { enabled } });
          if (!answer.ok) {
            window.toast(window.tw.errorLines(answer.body).join(" "), "error");
            return;
          }
          window.toast(enabled ? "Schedule enabled." : "Schedule paused: it starts nothing until enabled.", "success");
          await this.reload();
        }
      },

      async remove() {
        const id = this.deleting;
        this.deleting = null;
        const answer = await window.tw.fetchJson(`/api/schedules/${id}/`, { method: "DELETE" });
        if (!answer.ok) {
          window.toast(window.tw.errorLines(answer.body).join(" "), "error");
          return;
        }
        window.toast("Schedule deleted.", "success");
        await this.reload();
      },
    };
  };
})();
