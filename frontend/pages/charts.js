/*
 * The charts page: candlesticks (lightweight-charts) with indicator toggles kept for the browser
 * session (sessionStorage), the main chart plus daily and weekly side by side.
 *
 * Each <div data-candles data-url="…"> fetches its bars and indicator lines once from the page's
 * JSON endpoint and is redrawn from that data whenever a toggle changes. The main chart
 * (data-main) also gets RSI and MACD panes; the side charts show the overlays only.
 * After drawing, a container carries data-ready, data-panes and data-series (what it shows).
 */
(function () {
  "use strict";

  const STORAGE_KEY = "tw.chartIndicators";
  const DEFAULTS = { sma: true, bollinger: false, supertrend: false, volume: true, rsi: false, macd: false };
  const PANE_HEIGHT = 130;
  const COLORS = {
    up: "#34d399",
    down: "#fb7185",
    upVolume: "rgba(52, 211, 153, 0.35)",
    downVolume: "rgba(251, 113, 133, 0.35)",
    text: "#94a3b8",
    grid: "rgba(255, 255, 255, 0.04)",
    border: "rgba(255, 255, 255, 0.08)",
    sma_20: "#fbbf24",
    sma_50: "#60a5fa",
    sma_200: "#c084fc",
    bollinger: "rgba(148, 163, 184, 0.8)",
    rsi: "#a78bfa",
    macd: "#60a5fa",
    macd_signal: "#fbbf24",
  };
  const LABELS = {
    sma_20: "SMA 20",
    sma_50: "SMA 50",
    sma_200: "SMA 200",
    bb_upper: "Bollinger (20, 2)",
    supertrend: "SuperTrend (10, 3)",
    rsi_14: "RSI 14",
    macd: "MACD (12, 26, 9)",
  };

  function loadToggles() {
    try {
      return { ...DEFAULTS, ...JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "{}") };
    } catch {
      return { ...DEFAULTS };
    }
  }

  function saveToggles(toggles) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(toggles));
  }

  const line = (color, extra = {}) => ({
    color,
    lineWidth: 1,
    priceLineVisible: false,
    lastValueVisible: false,
    crosshairMarkerVisible: false,
    ...extra,
  });

  function chartOptions(intraday) {
    return {
      autoSize: true,
      layout: {
        background: { type: "solid", color: "transparent" },
        textColor: COLORS.text,
        fontFamily: getComputedStyle(document.body).fontFamily,
        attributionLogo: false,
        panes: { separatorColor: COLORS.border, separatorHoverColor: "rgba(129, 140, 248, 0.3)" },
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.border },
      timeScale: { borderColor: COLORS.border, timeVisible: intraday, secondsVisible: false },
      crosshair: { mode: 0 },
    };
  }

  // Draws `data` into `el` with the indicators `toggles` switches on; returns what it drew for the legend.
  function draw(el, data, toggles) {
    const LW = window.LightweightCharts;
    const main = el.hasAttribute("data-main");
    el.chart?.remove();
    el.replaceChildren();
    const intraday = !["1d", "1w", "1M"].includes(data.bar);
    const chart = LW.createChart(el, chartOptions(intraday));
    el.chart = chart;
    const lines = data.lines;
    const drawn = [];
    let series = 0;
    const add = (definition, options, values, pane = 0) => {
      const created = chart.addSeries(definition, options, pane);
      created.setData(values);
      series += 1;
      return created;
    };

    add(
      LW.CandlestickSeries,
      { upColor: COLORS.up, downColor: COLORS.down, borderVisible: false, wickUpColor: COLORS.up, wickDownColor: COLORS.down },
      data.candles,
    );
    if (toggles.volume) {
      add(
        LW.HistogramSeries,
        { priceFormat: { type: "volume" }, priceScaleId: "volume", lastValueVisible: false, priceLineVisible: false },
        data.volume.map((bar) => ({ time: bar.time, value: bar.value, color: bar.up ? COLORS.upVolume : COLORS.downVolume })),
      );
      chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
      drawn.push(["Volume", COLORS.upVolume]);
    }
    if (toggles.sma) {
      for (const name of ["sma_20", "sma_50", "sma_200"]) {
        if (!lines[name]) continue;
        add(LW.LineSeries, line(COLORS[name]), lines[name]);
        drawn.push([LABELS[name], COLORS[name]]);
      }
    }
    if (toggles.bollinger && lines.bb_upper) {
      for (const name of ["bb_upper", "bb_middle", "bb_lower"]) {
        add(LW.LineSeries, line(COLORS.bollinger, { lineStyle: name === "bb_middle" ? 2 : 0 }), lines[name]);
      }
      drawn.push([LABELS.bb_upper, COLORS.bollinger]);
    }
    if (toggles.supertrend && lines.supertrend) {
      const points = lines.supertrend.map((point) => ({ time: point.time, value: point.value, color: point.up ? COLORS.up : COLORS.down }));
      add(LW.LineSeries, line(COLORS.up, { lineWidth: 2 }), points);
      drawn.push([LABELS.supertrend, COLORS.up]);
    }

    let pane = 0;
    if (main && toggles.rsi && lines.rsi_14) {
      pane += 1;
      const rsi = add(LW.LineSeries, line(COLORS.rsi, { lastValueVisible: true }), lines.rsi_14, pane);
      rsi.createPriceLine({ price: 70, color: COLORS.down, lineStyle: 2, lineWidth: 1, axisLabelVisible: false });
      rsi.createPriceLine({ price: 30, color: COLORS.up, lineStyle: 2, lineWidth: 1, axisLabelVisible: false });
      drawn.push([LABELS.rsi_14, COLORS.rsi]);
    }
    if (main && toggles.macd && lines.macd) {
      pane += 1;
      add(
        LW.HistogramSeries,
        { priceLineVisible: false, lastValueVisible: false },
        lines.macd_hist.map((point) => ({ ...point, color: point.value >= 0 ? COLORS.upVolume : COLORS.downVolume })),
        pane,
      );
      add(LW.LineSeries, line(COLORS.macd), lines.macd, pane);
      add(LW.LineSeries, line(COLORS.macd_signal), lines.macd_signal, pane);
      drawn.push([LABELS.macd, COLORS.macd]);
    }
    if (main) {
      // Extra panes get their own room rather than squeezing the candles.
      el.style.height = "";
      if (pane) el.style.height = `${el.clientHeight + pane * PANE_HEIGHT}px`;
      chart.panes().forEach((each, index) => each.setStretchFactor(index === 0 ? 3 : 1));
    }
    chart.timeScale().fitContent();
    el.dataset.panes = String(pane + 1);
    el.dataset.series = String(series);
    el.dataset.ready = "";
    return drawn;
  }

  function showLegend(drawn) {
    const legend = document.querySelector("[data-chart-legend]");
    if (!legend) return;
    legend.replaceChildren(
      ...drawn.map(([label, color]) => {
        const item = document.createElement("span");
        item.className = "inline-flex items-center gap-1.5";
        const swatch = document.createElement("span");
        swatch.className = "h-0.5 w-3 rounded-full";
        swatch.style.background = color;
        item.append(swatch, label);
        return item;
      }),
    );
  }

  function showError(el, message) {
    el.replaceChildren();
    const box = document.createElement("div");
    box.className = "flex h-full flex-col items-center justify-center gap-3 px-6 text-center text-sm text-slate-400";
    box.setAttribute("role", "alert");
    box.dataset.chartError = "";
    const text = document.createElement("p");
    text.textContent = message;
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "btn btn-secondary btn-sm";
    retry.textContent = "Try again";
    retry.addEventListener("click", () => load(el, loadToggles()));
    box.append(text, retry);
    el.append(box);
  }

  function showLoading(el) {
    el.replaceChildren();
    const box = document.createElement("div");
    box.className = "flex h-full items-center justify-center gap-2 text-sm text-slate-500";
    box.dataset.chartLoading = "";
    box.innerHTML = '<span class="spinner"></span>Loading bars…';
    el.append(box);
  }

  async function load(el, toggles) {
    showLoading(el);
    try {
      const response = await fetch(el.dataset.url, { headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || `The server answered ${response.status}.`);
      el.data = body;
    } catch (error) {
      showError(el, error.message || "Could not load the bars.");
      window.toast?.(error.message || "Could not load the bars.", "error");
      return;
    }
    const drawn = draw(el, el.data, toggles);
    if (el.hasAttribute("data-main")) {
      showLegend(drawn);
      const caption = document.querySelector("[data-chart-caption]");
      if (caption) {
        const warnings = el.data.warnings.length ? ` · ${el.data.warnings.join("; ")}` : "";
        caption.textContent = `${el.data.label} · ${el.data.candles.length} bars${warnings}`;
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.LightweightCharts) return;
    const toggles = loadToggles();
    const charts = [...document.querySelectorAll("[data-candles]")];

    document.querySelectorAll("[data-indicator]").forEach((box) => {
      box.checked = Boolean(toggles[box.dataset.indicator]);
      box.addEventListener("change", () => {
        toggles[box.dataset.indicator] = box.checked;
        saveToggles(toggles);
        for (const el of charts) {
          if (!el.data) continue;
          const drawn = draw(el, el.data, toggles);
          if (el.hasAttribute("data-main")) showLegend(drawn);
        }
      });
    });

    charts.forEach((el) => load(el, toggles));
  });
})();
