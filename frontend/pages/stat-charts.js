/*
 * chart.js charts of the portfolio and analytics pages, drawn from data the page embeds.
 *
 * <canvas data-stat-chart="NAME" data-source="ID"> is drawn by BUILDERS[NAME] from the JSON in
 * <script id="ID" type="application/json"> (Django's json_script; decimals arrive as strings).
 */
(function () {
  "use strict";

  const COLORS = {
    gain: "#34d399",
    gainFill: "rgba(52, 211, 153, 0.55)",
    loss: "#fb7185",
    lossFill: "rgba(251, 113, 133, 0.55)",
    brand: "#818cf8",
    brandFill: "rgba(129, 140, 248, 0.18)",
    neutral: "#94a3b8",
    neutralFill: "rgba(148, 163, 184, 0.45)",
    warning: "#fbbf24",
    grid: "rgba(255, 255, 255, 0.06)",
    text: "#94a3b8",
  };

  const number = (value) => (value === null || value === undefined || value === "" ? null : Number(value));
  const signColor = (values, positive, negative) => values.map((value) => (value < 0 ? negative : positive));
  const money = (value) =>
    `${value < 0 ? "-" : ""}${Math.abs(value).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

  function axes({ stacked = false, percent = false, moneyAxis = false, horizontal = false } = {}) {
    const valueAxis = {
      stacked,
      grid: { color: COLORS.grid },
      border: { display: false },
      // Counts and percentages are whole numbers; money keeps its cents.
      ticks: { precision: moneyAxis ? 2 : 0, callback: (value) => (percent ? `${value}%` : moneyAxis ? money(value) : value) },
      beginAtZero: true,
    };
    if (percent) valueAxis.max = 100;
    const categoryAxis = { stacked, grid: { display: false }, border: { color: COLORS.grid }, ticks: { maxRotation: 0, autoSkipPadding: 12 } };
    return horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis };
  }

  // One backtest's equity at the given dates (null where it has no decision point), for a line chart.
  function equityLine(label, points, color, fill, dates = points.map((point) => point.time.slice(0, 10))) {
    const byDate = new Map(points.map((point) => [point.time.slice(0, 10), number(point.equity)]));
    return {
      label,
      data: dates.map((date) => (byDate.has(date) ? byDate.get(date) : null)),
      borderColor: color,
      backgroundColor: fill,
      fill: false,
      spanGaps: true,
      tension: 0.15,
      pointRadius: dates.length > 40 ? 0 : 2,
    };
  }

  function equityChart(dates, datasets) {
    const scales = axes({ moneyAxis: true });
    scales.y.beginAtZero = false;
    return {
      type: "line",
      data: { labels: dates, datasets },
      options: { scales, plugins: { tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${money(item.raw)}` } } } },
    };
  }

  const BUILDERS = {
    "pnl-over-time": (days) => ({
      type: "bar",
      data: {
        labels: days.map((day) => day.date),
        datasets: [
          {
            type: "line",
            label: "Running total",
            data: days.map((day) => number(day.cumulative)),
            borderColor: COLORS.brand,
            backgroundColor: COLORS.brandFill,
            fill: true,
            tension: 0.25,
            pointRadius: days.length > 40 ? 0 : 3,
            order: 1,
          },
          {
            type: "bar",
            label: "That day",
            data: days.map((day) => number(day.pnl)),
            backgroundColor: signColor(days.map((day) => number(day.pnl)), COLORS.gainFill, COLORS.lossFill),
            borderRadius: 3,
            order: 2,
          },
        ],
      },
      options: { scales: axes({ moneyAxis: true }), plugins: { tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${money(item.raw)}` } } } },
    }),

    "pnl-by-strategy": (rows) => {
      const values = rows.map((row) => number(row.realized));
      return {
        type: "bar",
        data: {
          labels: rows.map((row) => row.strategy__name || "Manual orders"),
          datasets: [{ label: "Realized P&L", data: values, backgroundColor: signColor(values, COLORS.gainFill, COLORS.lossFill), borderRadius: 4 }],
        },
        options: {
          indexAxis: "y",
          scales: axes({ moneyAxis: true, horizontal: true }),
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { label: (item) => `${money(item.raw)} over ${rows[item.dataIndex].trades} trade(s)` } },
          },
        },
      };
    },

    "executions-over-time": (days) => ({
      type: "bar",
      data: {
        labels: days.map((day) => day.date),
        datasets: [
          { label: "Completed", data: days.map((day) => day.completed), backgroundColor: COLORS.gainFill, borderRadius: 2 },
          { label: "Failed", data: days.map((day) => day.failed), backgroundColor: COLORS.lossFill, borderRadius: 2 },
          { label: "Other", data: days.map((day) => day.other), backgroundColor: COLORS.neutralFill, borderRadius: 2 },
        ],
      },
      options: { scales: axes({ stacked: true }) },
    }),

    "success-rate": (days) => ({
      type: "line",
      data: {
        labels: days.map((day) => day.date),
        datasets: [
          {
            label: "Success rate",
            data: days.map((day) => number(day.success_rate)),
            borderColor: COLORS.gain,
            backgroundColor: "rgba(52, 211, 153, 0.12)",
            fill: true,
            spanGaps: true,
            tension: 0.25,
            pointRadius: 3,
          },
        ],
      },
      options: { scales: axes({ percent: true }), plugins: { legend: { display: false } } },
    }),

    "backtest-equity": (report) => {
      const dates = report.equity_curve.map((point) => point.time.slice(0, 10));
      return equityChart(dates, [
        equityLine("Backtest equity", report.equity_curve, COLORS.brand, COLORS.brandFill, dates),
        equityLine("Buy and hold", report.buy_and_hold, COLORS.neutral, COLORS.neutralFill, dates),
      ]);
    },

    // Two backtests may cover different ranges: both curves are drawn over the union of their dates.
    "backtest-compare-equity": (sides) => {
      const dates = [...new Set([...sides.a.equity_curve, ...sides.b.equity_curve].map((point) => point.time.slice(0, 10)))].sort();
      return equityChart(dates, [
        equityLine(`A ${sides.a.label}`, sides.a.equity_curve, COLORS.brand, COLORS.brandFill, dates),
        equityLine(`B ${sides.b.label}`, sides.b.equity_curve, COLORS.warning, COLORS.warning, dates),
      ]);
    },

    "backtest-drawdown": (report) => {
      const scales = axes();
      scales.y.beginAtZero = false;
      scales.y.max = 0;
      scales.y.ticks = { callback: (value) => `${value}%` };
      return {
        type: "line",
        data: {
          labels: report.drawdown.map((point) => point.time.slice(0, 10)),
          datasets: [
            {
              label: "Drawdown",
              data: report.drawdown.map((point) => Math.round(number(point.drawdown) * 10000) / 100),
              borderColor: COLORS.loss,
              backgroundColor: COLORS.lossFill,
              fill: true,
              tension: 0.15,
              pointRadius: 0,
            },
          ],
        },
        options: { scales, plugins: { legend: { display: false } } },
      };
    },

    "decision-breakdown": (totals) => ({
      type: "doughnut",
      data: {
        labels: ["Buy", "Sell", "Hold"],
        datasets: [
          {
            data: [totals.buys, totals.sells, totals.holds],
            backgroundColor: [COLORS.gainFill, COLORS.lossFill, COLORS.neutralFill],
            borderColor: [COLORS.gain, COLORS.loss, COLORS.neutral],
            borderWidth: 1,
          },
        ],
      },
      options: { cutout: "62%", plugins: { legend: { position: "bottom" } } },
    }),
  };

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.source);
    const build = BUILDERS[canvas.dataset.statChart];
    if (!source || !build) return;
    const config = build(JSON.parse(source.textContent));
    config.options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 300 },
      interaction: { mode: "index", intersect: false },
      ...config.options,
      plugins: { legend: { labels: { boxWidth: 10, boxHeight: 10, usePointStyle: true } }, ...config.options?.plugins },
    };
    new window.Chart(canvas, config);
    canvas.parentElement.querySelector("[data-chart-loading]")?.remove();
  }

  function drawAll(root) {
    root.querySelectorAll("canvas[data-stat-chart]").forEach((canvas) => {
      if (!window.Chart.getChart(canvas)) draw(canvas);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.Chart) return;
    window.Chart.defaults.color = COLORS.text;
    window.Chart.defaults.borderColor = COLORS.grid;
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    drawAll(document);
    document.body.addEventListener("htmx:afterSettle", (event) => drawAll(event.target));
  });
})();
