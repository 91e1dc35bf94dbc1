"""The backtest report page: figures, equity against buy-and-hold, drawdown, trades and decisions."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from execution.models import Backtest
from tradingweb.access import visible_or_404

FIGURES = [  # (key, label, kind)
    ("total_return", "Total return", "percent"),
    ("buy_and_hold_return", "Buy and hold", "percent"),
    ("cagr", "CAGR", "percent"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("max_drawdown", "Max drawdown", "percent"),
    ("win_rate", "Win rate", "percent"),
    ("average_r", "Average R", "ratio"),
    ("exposure", "Exposure", "percent"),
    ("trades", "Trades", "count"),
]


def _figure_text(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value * 100:.1f} %"
    if kind == "ratio":
        return f"{value:.2f}"
    return str(value)


@login_required
@require_GET
def backtest_detail(request, pk: int):
    backtest = visible_or_404(request.user, Backtest.objects.select_related("workflow", "version", "strategy"), pk=pk)
    results = backtest.results or {}
    figures = results.get("figures") or {}
    progress = backtest.progress or {}
    total = progress.get("points_total") or 0
    context = {
        "backtest": backtest,
        "results": results,
        "figures": [(label, _figure_text(figures.get(key), kind)) for key, label, kind in FIGURES],
        "percent_done": round(100 * (progress.get("points_done") or 0) / total) if total else 0,
        "chart_data": {key: results.get(key) or [] for key in ("equity_curve", "buy_and_hold", "drawdown")},
        "has_curve": bool(results.get("equity_curve")),
        "trades": results.get("trades") or [],
        "decisions": backtest.decisions.all()[:1000],
    }
    return render(request, "execution/backtest_detail.html", context)
