"""The backtest report page (figures, equity against buy-and-hold, drawdown, trades and decisions), and two
backtests compared side by side."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from execution.backtests.results import compared_figures
from execution.models import Backtest
from tradingweb.access import visible_or_404

FIGURES = [  # (key, label, kind)
    ("final_equity", "Final equity", "money"),
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


def _figure_text(value, kind: str, *, signed: bool = False) -> str:
    """A figure as the report shows it; `signed` for a difference (percent figures differ in points)."""
    if value is None:
        return "—"
    sign = "+" if signed else ""
    if kind == "percent":
        return f"{value * 100:{sign}.1f} {'pp' if signed else '%'}"
    if kind == "ratio":
        return f"{value:{sign}.2f}"
    if kind == "money":
        return f"{float(value):{sign},.2f}"
    return f"{value:{sign}}" if signed else str(value)


REPORT_FIGURES = [figure for figure in FIGURES if figure[0] != "final_equity"]  # its own line on the report


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
        "figures": [(label, _figure_text(figures.get(key), kind)) for key, label, kind in REPORT_FIGURES],
        "percent_done": round(100 * (progress.get("points_done") or 0) / total) if total else 0,
        "chart_data": {key: results.get(key) or [] for key in ("equity_curve", "buy_and_hold", "drawdown")},
        "has_curve": bool(results.get("equity_curve")),
        "trades": results.get("trades") or [],
        "decisions": backtest.decisions.all()[:1000],
        "other_backtests": Backtest.objects.visible_to(request.user)
        .filter(workflow=backtest.workflow)
        .exclude(pk=backtest.pk)
        .select_related("version")[:100],
    }
    return render(request, "execution/backtest_detail.html", context)


class CompareForm(forms.Form):
    a = forms.IntegerField(min_value=1, label="Backtest A")
    b = forms.IntegerField(min_value=1, label="Backtest B")


def _curve(backtest: Backtest) -> dict:
    return {
        "label": f"#{backtest.pk} {backtest.workflow.name} v{backtest.version.number}",
        "equity_curve": (backtest.results or {}).get("equity_curve") or [],
    }


@login_required
@require_GET
def backtest_compare(request):
    """/backtests/compare/?a=&b=: two backtests' equity curves on one chart and their figures with b − a."""
    form = CompareForm(request.GET)
    if not form.is_valid():
        return render(request, "execution/backtest_compare.html", {"form": form}, status=400)
    visible = Backtest.objects.select_related("workflow", "version")
    first = visible_or_404(request.user, visible, pk=form.cleaned_data["a"])
    second = visible_or_404(request.user, visible, pk=form.cleaned_data["b"])
    compared = compared_figures(first.results or {}, second.results or {})
    rows = []
    for key, label, kind in FIGURES:
        values = compared.get(key) or {}
        difference = values.get("difference")
        rows.append({
            "label": label, "a": _figure_text(values.get("a"), kind), "b": _figure_text(values.get("b"), kind),
            "difference": _figure_text(difference, kind, signed=True),
            "direction": "" if difference in (None, 0) else ("up" if float(difference) > 0 else "down"),
        })  # fmt: skip
    curves = {"a": _curve(first), "b": _curve(second)}
    context = {
        "form": form,
        "a": first,
        "b": second,
        "rows": rows,
        "chart_data": curves,
        "has_curve": any(curve["equity_curve"] for curve in curves.values()),
    }
    return render(request, "execution/backtest_compare.html", context)
