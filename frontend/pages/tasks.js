/*
 * The task queue dashboard (templates/execution/tasks.html).
 *
 * The figures come from the monitor socket's queue.metrics messages (and an htmx poll of the metrics
 * partial as a fallback); the lanes are re-read (tasks/lanes/) when the socket reports a run changing
 * status or finishing a symbol. Cancel asks first, then DELETEs /api/tasks/<task_id>/.
 */
(function () {
  "use strict";

  const LANE_EVENTS = ["execution.status", "symbol.started", "symbol.finished", "step.finished"];

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.querySelector("[data-tasks-page]");
    if (!page) return;
    let lanesTimer = null;

    async function refreshLanes() {
      try {
        const fresh = window.tw.elementFrom(await window.tw.fetchHtml(page.dataset.lanesUrl));
        page.querySelector("[data-task-lanes]").replaceWith(fresh);
      } catch (error) {
        console.warn("Could not re-read the task lanes", error);
      }
    }

    function scheduleLanes() {
      clearTimeout(lanesTimer);
      lanesTimer = setTimeout(refreshLanes, 250);
    }

    function showMetrics(metrics) {
      const box = page.querySelector("[data-task-metrics]");
      if (!box) return;
      const value = (name) => box.querySelector(`[data-metric="${name}"] [data-value]`);
      for (const name of ["worker_count", "tasks_active", "tasks_completed_today"]) {
        if (value(name) && metrics[name] !== undefined) value(name).textContent = String(metrics[name]);
      }
      const workers = box.querySelector("[data-metric=worker_count]");
      workers.querySelector("[data-hint]").textContent = metrics.worker_count ? "answering" : "none answering: start one";
      value("worker_count").classList.toggle("text-rose-300", !metrics.worker_count);
      value("worker_count").classList.toggle("text-white", Boolean(metrics.worker_count));
      for (const [priority, count] of Object.entries(metrics.tasks_queued || {})) {
        const cell = box.querySelector(`[data-queued="${priority}"]`);
        if (cell) cell.textContent = String(count);
      }
      const failed = box.querySelector("[data-failed]");
      failed.textContent = String(metrics.tasks_failed_today);
      failed.classList.toggle("text-rose-300", metrics.tasks_failed_today > 0);
      value("average_duration").textContent =
        metrics.average_duration === null ? "—" : window.tw.elapsed(metrics.average_duration);
    }

    page.addEventListener("click", (event) => {
      const button = event.target.closest("[data-cancel-task]");
      if (!button) return;
      window.dispatchEvent(
        new CustomEvent("confirm-cancel-task", {
          detail: { task: button.dataset.cancelTask, execution: button.dataset.executionId },
        }),
      );
    });

    window.addEventListener("cancel-task", async (event) => {
      const { task, execution } = event.detail;
      const button = page.querySelector(`[data-cancel-task="${CSS.escape(task)}"]`);
      if (button) {
        button.disabled = true;
        button.querySelector("span").textContent = "Cancelling…";
      }
      const answer = await window.tw.fetchJson(`/api/tasks/${encodeURIComponent(task)}/`, { method: "DELETE" });
      if (!answer.ok) {
        window.toast(window.tw.errorLines(answer.body).join(" "), "error");
      } else if (answer.body.execution_status === "cancelled") {
        window.toast(`Cancelled execution #${execution}.`, "success");
      } else {
        window.toast(`Cancelling execution #${execution}: it stops at its next step.`, "info");
      }
      scheduleLanes();
    });

    window.liveSocket("/ws/monitor/", {
      status: document.querySelector("[data-live-status]"),
      onMessage(message) {
        if (message.type === "queue.metrics") showMetrics(message);
        else if (LANE_EVENTS.includes(message.type)) scheduleLanes();
      },
      onOpen: refreshLanes,
    });
  });
})();
