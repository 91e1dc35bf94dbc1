/*
 * The live monitor on the executions page (templates/execution/executions.html).
 *
 * Listens on ws/monitor/: a step or symbol event moves the run's progress bar, step count, current
 * symbol and step; a status change (or a run the page has not seen yet) re-reads that run's row from
 * the server (executions/<id>/monitor-row/), so the badge and colours stay the server's. Elapsed time
 * ticks every second for runs that have started and not finished. Nothing reloads the page.
 */
(function () {
  "use strict";

  const TERMINAL = ["completed", "failed", "cancelled"];

  document.addEventListener("DOMContentLoaded", () => {
    const monitor = document.querySelector("[data-monitor]");
    if (!monitor) return;
    const tbody = monitor.querySelector("[data-monitor-rows]");
    const table = monitor.querySelector("[data-monitor-table]");
    const empty = monitor.querySelector("[data-monitor-empty]");
    const rowUrl = (id) => monitor.dataset.rowUrl.replace("/0/", `/${id}/`);
    const loading = new Set();
    const clock = new Map(); // row element -> {base seconds, at performance.now()}

    function rowOf(id) {
      return tbody.querySelector(`[data-monitor-row="${id}"]`);
    }

    function showTable() {
      const hasRows = Boolean(tbody.querySelector("[data-monitor-row]"));
      table.hidden = !hasRows;
      empty.hidden = hasRows;
    }

    function startClock(row) {
      const seconds = row.querySelector("[data-field=elapsed]")?.dataset.seconds;
      if (seconds !== undefined && seconds !== "") clock.set(row, { base: Number(seconds), at: performance.now() });
      else clock.delete(row);
    }

    async function refreshRow(id) {
      if (loading.has(id)) return;
      loading.add(id);
      try {
        const fresh = window.tw.elementFrom(await window.tw.fetchHtml(rowUrl(id)));
        const current = rowOf(id);
        if (current) {
          clock.delete(current);
          current.replaceWith(fresh);
        } else {
          tbody.prepend(fresh);
        }
        startClock(fresh);
        showTable();
      } catch (error) {
        console.warn(`Could not read execution ${id}'s row`, error);
      } finally {
        loading.delete(id);
      }
    }

    // The list of every run below the monitor: re-read when a run ends, so it is listed there too.
    let historyTimer = null;
    function refreshHistory() {
      clearTimeout(historyTimer);
      historyTimer = setTimeout(async () => {
        try {
          const page = new DOMParser().parseFromString(await window.tw.fetchHtml(window.location.href), "text/html");
          const fresh = page.querySelector("#execution-history");
          if (fresh) document.querySelector("#execution-history").replaceWith(document.importNode(fresh, true));
        } catch (error) {
          console.warn("Could not re-read the list of executions", error);
        }
      }, 500);
    }

    function showProgress(row, progress) {
      if (!progress || typeof progress !== "object") return;
      const total = Number(progress.total_steps || row.dataset.totalSteps || 0);
      const done = Number(progress.current_step || 0);
      const percent = total ? Math.min(100, Math.round((100 * done) / total)) : 0;
      const set = (field, value) => {
        const element = row.querySelector(`[data-field="${field}"]`);
        if (element) element.textContent = value;
      };
      row.querySelector("[data-field=bar]").style.width = `${percent}%`;
      row.querySelector("[data-field=progressbar]").setAttribute("aria-valuenow", String(percent));
      set("percent", String(percent));
      set("steps", `${done} / ${total}`);
      if (progress.current_symbol) set("symbol", progress.current_symbol);
      set("step", progress.current_step_id || "");
      const finished = progress.completed_symbols;
      set("symbols-done", String(Array.isArray(finished) ? finished.length : Number(finished || 0)));
    }

    function onMessage(message) {
      const id = message.execution_id;
      if (!id || !message.type || message.type === "notification") return;
      const row = rowOf(id);
      if (!row) {
        if (!TERMINAL.includes(message.status) || message.type !== "execution.status") refreshRow(id);
        return;
      }
      if (message.type === "execution.status") {
        refreshRow(id);
        if (TERMINAL.includes(message.status)) refreshHistory();
        return;
      }
      showProgress(row, message.progress);
    }

    function tick() {
      for (const [row, start] of clock) {
        if (!row.isConnected) {
          clock.delete(row);
          continue;
        }
        if (row.dataset.finished) continue;
        const seconds = start.base + (performance.now() - start.at) / 1000;
        row.querySelector("[data-field=elapsed]").textContent = window.tw.elapsed(seconds);
      }
    }

    tbody.querySelectorAll("[data-monitor-row]").forEach((row) => {
      startClock(row);
      const seconds = row.querySelector("[data-field=elapsed]")?.dataset.seconds;
      if (seconds) row.querySelector("[data-field=elapsed]").textContent = window.tw.elapsed(Number(seconds));
    });
    setInterval(tick, 1000);

    window.liveSocket("/ws/monitor/", {
      status: monitor.querySelector("[data-live-status]"),
      onMessage,
      // Events sent before this (re)connection were missed: re-read every row shown.
      onOpen() {
        tbody.querySelectorAll("[data-monitor-row]").forEach((row) => refreshRow(row.dataset.monitorRow));
      },
    });
  });
})();
