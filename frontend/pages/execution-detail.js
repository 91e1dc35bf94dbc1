/*
 * One execution's page (templates/execution/detail.html), kept live over ws/executions/<id>/.
 *
 * - step events move the step timeline (icons cloned from the page's server-drawn templates) and the progress bar;
 * - a finished step that produces results (chart, analysis, decision, risk, order) re-reads the results panels;
 * - agent.message events append chat bubbles to the agent conversation;
 * - approval events and the awaiting_approval status re-read the approval panel;
 * - the execution's final status re-reads everything and settles the cancel button.
 * On every (re)connect the page re-reads what it may have missed. Loaded before Alpine (not deferred)
 * because it defines the Alpine components cancelExecution and approvalPanel.
 */
(function () {
  "use strict";

  const TERMINAL = ["completed", "failed", "cancelled"];
  const RESULT_STEPS = ["generate_chart", "ai_analyze", "consolidate", "decide", "agent_team", "validate_risk", "place_order"];
  const TOAST_KINDS = { info: "info", warning: "warning", error: "error" };
  const LONG_MESSAGE_CHARS = 600;

  // --- Alpine components -------------------------------------------------------------------------

  window.cancelExecution = function cancelExecution(executionId, taskId, alreadyRequested) {
    return {
      open: false,
      state: alreadyRequested ? "cancelling" : "idle",
      async confirm() {
        this.open = false;
        this.state = "cancelling";
        const answer = await window.tw.fetchJson(`/api/tasks/${encodeURIComponent(taskId)}/`, { method: "DELETE" });
        if (!answer.ok) {
          this.state = answer.status === 409 ? "ended" : "idle";
          window.toast(window.tw.errorLines(answer.body).join(" "), "error");
          return;
        }
        if (answer.body.execution_status === "cancelled") {
          this.state = "cancelled";
          window.toast(`Cancelled execution #${executionId}.`, "success");
        } else {
          window.toast(`Cancelling execution #${executionId}: it stops at its next step.`, "info");
        }
      },
      finished(status) {
        this.state = status === "cancelled" ? "cancelled" : "ended";
      },
    };
  };

  function decimal(text) {
    const value = Number(String(text ?? "").replace(/,/g, "").trim());
    return String(text ?? "").trim() !== "" && Number.isFinite(value) ? value : null;
  }

  function money(value) {
    return value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  // The risk arithmetic of DESIGN §5, shown as the trader edits; the server re-checks every answer.
  window.approvalPanel = function approvalPanel(initial) {
    return {
      ...initial,
      original: { target: initial.target, stop: initial.stop, quantity: initial.quantity },
      busy: false,
      rejecting: false,
      reason: "",
      errors: [],
      fieldErrors: {},
      countdown: "",
      init() {
        const deadline = Date.parse(this.deadline);
        const tick = () => {
          const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
          this.countdown = Number.isNaN(deadline) ? "" : `${window.tw.elapsed(left)} left`;
        };
        tick();
        this.timer = setInterval(tick, 1000);
      },
      destroy() {
        clearInterval(this.timer);
      },
      get changed() {
        return ["target", "stop", "quantity"].some((name) => decimal(this[name]) !== decimal(this.original[name]));
      },
      get arithmetic() {
        const price = decimal(this.price);
        const target = decimal(this.target);
        const stop = decimal(this.stop);
        const quantity = decimal(this.quantity);
        const none = { r: "—", margin: "—", risk: "—", reward: "—", ok: false, problem: "" };
        if (price === null || target === null || stop === null) return { ...none, problem: "Enter a target and a stop." };
        const buy = this.side === "buy";
        if (buy ? !(stop < price && price < target) : !(target < price && price < stop)) {
          const need = buy ? "stop < entry < target" : "target < entry < stop";
          return { ...none, problem: `Inconsistent levels for a ${this.side}: need ${need}.` };
        }
        const r = Math.abs(target - price) / Math.abs(price - stop);
        const shares = quantity ?? 0;
        return {
          r: r.toFixed(2),
          margin: `${((100 * Math.abs(target - price)) / price).toFixed(1)}%`,
          risk: quantity === null ? "—" : money(shares * Math.abs(price - stop)),
          reward: quantity === null ? "—" : money(shares * Math.abs(target - price)),
          ok: true,
          problem: quantity !== null && (!Number.isInteger(quantity) || quantity < 1) ? "Quantity must be a whole number of at least 1." : "",
        };
      },
      async answer(action, body) {
        this.busy = true;
        this.errors = [];
        this.fieldErrors = {};
        const answer = await window.tw.fetchJson(`/api/workflow-executions/${this.execution}/${action}/`, { method: "POST", body });
        this.busy = false;
        if (!answer.ok) {
          this.fieldErrors = answer.status === 400 ? answer.body : {};
          const lines = window.tw.errorLines(answer.body);
          this.errors = answer.status === 409 ? [`Conflict: ${lines.join(" ")}`] : lines;
          return;
        }
        const done = { approve: "Approved: the order is being placed.", reject: "Rejected: no order will be placed.", modify: "Approved with your changes: the order is being placed." };
        window.toast(done[action], "success");
        window.dispatchEvent(new CustomEvent("approval-answered"));
      },
      approve() {
        this.answer("approve", {});
      },
      reject() {
        this.answer("reject", { reason: this.reason });
      },
      modify() {
        const body = {};
        const names = { target: "target_price", stop: "stop_loss", quantity: "quantity" };
        for (const [field, key] of Object.entries(names)) {
          if (decimal(this[field]) !== decimal(this.original[field])) body[key] = String(this[field]).replace(/,/g, "").trim();
        }
        if (this.arithmetic.problem) {
          this.errors = [this.arithmetic.problem];
          return;
        }
        this.answer("modify", body);
      },
    };
  };

  // --- the live page ---------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.querySelector("[data-execution-detail]");
    if (!root) return;
    const executionId = root.dataset.executionDetail;
    const looks = JSON.parse(document.getElementById("agent-looks").textContent);
    let status = root.dataset.status;
    let resultsTimer = null;
    let messageCount = 0;

    function cloneTemplate(kind, name) {
      const template = document.querySelector(`template[data-${kind}-template="${name}"]`);
      return template ? template.content.cloneNode(true) : null;
    }

    function setBadge(container, name) {
      const badge = container && cloneTemplate("badge", name);
      if (badge) container.replaceChildren(badge);
    }

    function setField(field, value) {
      root.querySelectorAll(`[data-field="${field}"]`).forEach((element) => (element.textContent = value));
    }

    function showProgress(progress) {
      if (!progress || typeof progress !== "object" || !progress.total_steps) return;
      const total = Number(progress.total_steps);
      const done = Number(progress.current_step || 0);
      const percent = status === "completed" ? 100 : Math.min(100, Math.round((100 * done) / total));
      root.querySelector("[data-field=bar]").style.width = `${percent}%`;
      root.querySelector("[data-field=progressbar]").setAttribute("aria-valuenow", String(percent));
      setField("percent", String(percent));
      setField("steps", `${done} / ${total}`);
      if (progress.current_symbol) setField("symbol", progress.current_symbol);
      setField("step", progress.current_step_id || "");
      const finished = progress.completed_symbols;
      setField("symbols-done", String(Array.isArray(finished) ? finished.length : Number(finished || 0)));
    }

    function showStep(message) {
      const symbol = root.querySelector(`[data-timeline-symbol="${CSS.escape(message.symbol)}"]`);
      const step = symbol?.querySelector(`[data-step="${CSS.escape(message.step_id)}"]`);
      if (!step) return;
      const state = message.type === "step.started" ? "running" : message.status;
      step.dataset.stepStatus = state;
      const icon = cloneTemplate("step-icon", state);
      if (icon) step.querySelector("[data-step-icon]").replaceChildren(icon);
      step.querySelector("[data-step-name]").className = "truncate text-sm text-slate-200";
      const meta = [];
      if (message.duration_ms !== null && message.duration_ms !== undefined && state !== "running") meta.push(`${message.duration_ms} ms`);
      if (message.attempt > 1) meta.push(`attempt ${message.attempt}`);
      if (message.type === "step.retrying") meta.push(`retrying in ${Math.round(message.retry_in)} s`);
      step.querySelector("[data-step-meta]").textContent = meta.map((part) => ` · ${part}`).join("");
      const error = step.querySelector("[data-step-error]");
      error.textContent = message.error || "";
      error.hidden = !message.error;
      if (message.type === "step.started") setBadge(symbol.querySelector("[data-symbol-status]"), "running");
    }

    // Swap a section for its fresh copy; an approval panel in the same state is kept, with what the trader typed.
    function swap(current, fresh) {
      if (!fresh || !current) return;
      if (current.dataset.approvalKey && current.dataset.approvalKey === fresh.dataset.approvalKey) return;
      current.replaceWith(document.importNode(fresh, true));
    }

    async function replaceFrom(url, selector) {
      try {
        const html = await window.tw.fetchHtml(url);
        swap(root.querySelector(selector), new DOMParser().parseFromString(html, "text/html").querySelector(selector));
      } catch (error) {
        console.warn(`Could not re-read ${selector}`, error);
      }
    }

    function refreshResults() {
      clearTimeout(resultsTimer);
      resultsTimer = setTimeout(() => replaceFrom(root.dataset.resultsUrl, "[data-results]"), 300);
    }

    function refreshApproval() {
      const panel = root.querySelector("[data-approval-panel]");
      if (panel) replaceFrom(panel.dataset.approvalUrl, "[data-approval-panel]");
    }

    // Everything at once (after a reconnect or when the run ends): timeline, results and approval.
    async function refreshAll() {
      try {
        const page = new DOMParser().parseFromString(await window.tw.fetchHtml(window.location.pathname), "text/html");
        const liveStatus = root.querySelector("[data-live-status]");
        for (const selector of ["[data-summary]", "[data-timeline]", "[data-results]", "[data-approval-panel]", "[data-conversation]"]) {
          swap(root.querySelector(selector), page.querySelector(selector));
        }
        // The socket keeps reporting into the status element it was given.
        root.querySelector("[data-live-status]")?.replaceWith(liveStatus);
        stopClock();
        showElapsed();
        if (status === "running") startClock();
        root.dataset.synced = "true"; // the page holds the server's state as of this (re)connection
      } catch (error) {
        console.warn("Could not re-read the execution", error);
      }
    }

    function appendMessage(message) {
      const list = root.querySelector("[data-messages]");
      const fragment = cloneTemplate("message", "") || document.querySelector("template[data-message-template]")?.content.cloneNode(true);
      if (!list || !fragment) return;
      const item = fragment.firstElementChild;
      const look = looks.known[message.agent_name] || looks.other;
      const final = message.message_type === "decision";
      messageCount += 1;
      item.dataset.agentMessage = `live-${messageCount}`;
      item.dataset.agent = message.agent_name;
      item.dataset.messageType = message.message_type;
      if (final) item.dataset.final = "";
      const avatar = item.querySelector("[data-agent-avatar]");
      avatar.className = `flex h-9 w-9 shrink-0 items-center justify-center rounded-full ring-1 ring-inset ${look.tone}`;
      const use = item.querySelector("[data-agent-icon]");
      use.setAttribute("href", use.getAttribute("href").replace(/#.*$/, `#${look.icon}`));
      item.querySelector("[data-agent-name]").textContent = message.agent_name;
      const type = message.message_type !== "text" ? ` · ${message.message_type.replace("_", " ")}` : "";
      item.querySelector("[data-message-meta]").textContent = `${message.symbol} · round ${message.round}${type}`;
      item.querySelector("[data-tokens]").textContent = `${message.tokens_used} tokens${message.model ? ` · ${message.model}` : ""}`;
      const content = item.querySelector("[data-message-content]");
      content.textContent = message.message_content;
      if (message.message_type === "tool_call" || message.message_type === "tool_result") {
        content.classList.replace("text-sm", "text-xs");
        content.classList.add("font-mono");
      }
      const bubble = item.querySelector("[data-bubble]");
      if (final) {
        bubble.className = bubble.className.replace("bg-white/[0.03] ring-white/[0.06]", "bg-emerald-500/[0.08] ring-emerald-400/40");
        item.querySelector("[data-final-label]").classList.remove("!hidden");
      }
      if (!final && message.message_content.length > LONG_MESSAGE_CHARS) {
        bubble.setAttribute("x-data", "{ open: false }");
        item.querySelector("[data-expand]").hidden = false;
      }
      const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
      list.appendChild(item);
      root.querySelector("[data-conversation-empty]").hidden = true;
      const count = root.querySelector("[data-message-count]");
      count.textContent = String(list.children.length);
      if (nearBottom && !list.closest("[data-panel]")?.hidden) item.scrollIntoView({ block: "nearest" });
    }

    function onMessage(message) {
      if (String(message.execution_id) !== executionId) return;
      switch (message.type) {
        case "step.started":
        case "step.retrying":
          showStep(message);
          showProgress(message.progress);
          break;
        case "step.finished":
          showStep(message);
          showProgress(message.progress);
          if (RESULT_STEPS.includes(message.step_type)) refreshResults();
          break;
        case "symbol.started":
        case "symbol.finished": {
          const symbol = root.querySelector(`[data-timeline-symbol="${CSS.escape(message.symbol)}"] [data-symbol-status]`);
          setBadge(symbol, message.status);
          showProgress(message.progress);
          break;
        }
        case "execution.status":
          status = message.status;
          root.dataset.status = status;
          setBadge(root.querySelector("[data-exec-status]"), status);
          showProgress(message.progress);
          if (status === "running") startClock();
          if (status === "awaiting_approval") refreshApproval();
          if (TERMINAL.includes(status)) {
            stopClock();
            if (status === "completed") showProgress({ ...message.progress, total_steps: message.progress?.total_steps || 1 });
            window.dispatchEvent(new CustomEvent("execution-finished", { detail: { status } }));
            refreshAll();
          }
          break;
        case "execution.notification":
          window.toast(message.message, TOAST_KINDS[message.level] || "info");
          break;
        case "agent.message":
          appendMessage(message);
          break;
        case "approval.requested":
        case "approval.answered":
          refreshApproval();
          break;
        default:
          break;
      }
    }

    // Elapsed time ticks locally from the server's figure (the element is re-read: a refresh replaces it).
    const elapsedElement = () => root.querySelector("[data-field=elapsed]");
    let clockBase = null;
    let clockTimer = null;
    function startClock() {
      if (clockTimer) return;
      const seconds = elapsedElement().dataset.seconds;
      clockBase = { seconds: seconds === "" ? 0 : Number(seconds), at: performance.now() };
      elapsedElement().textContent = window.tw.elapsed(clockBase.seconds);
      clockTimer = setInterval(() => {
        elapsedElement().textContent = window.tw.elapsed(clockBase.seconds + (performance.now() - clockBase.at) / 1000);
      }, 1000);
    }
    function stopClock() {
      clearInterval(clockTimer);
      clockTimer = null;
    }
    function showElapsed() {
      const element = elapsedElement();
      if (element.dataset.seconds !== "") element.textContent = window.tw.elapsed(Number(element.dataset.seconds));
    }
    showElapsed();
    if (status === "running") startClock();

    window.addEventListener("approval-answered", refreshApproval);

    window.liveSocket(`/ws/executions/${executionId}/`, {
      status: root.querySelector("[data-live-status]"),
      onMessage,
      // Events sent between the page's render and this (re)connection were missed: re-read the page's state.
      onOpen: refreshAll,
    });
  });
})();
