"""The top layer's pages: dashboard, the API token page, and the chart pages that combine apps.

Each view loads rows through tradingweb.selectors (owner-scoped) and renders; later pages may
replace the view behind a URL name without touching the navigation.
"""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from broker.chart_data import DAILY, DEFAULT_TIMEFRAME, TIMEFRAMES, WEEKLY
from broker.models import Chart, Instrument
from broker.selectors import positions_for
from tradingweb import selectors
from tradingweb.forms import LoginForm
from tradingweb.tokens import current_token, revoke_tokens, rotate_token

logger = logging.getLogger(__name__)


class TraderLoginView(LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


@login_required
def dashboard(request):
    return render(request, "tradingweb/dashboard.html", selectors.dashboard_data(request.user))


@login_required
def dashboard_account(request):
    """The account card, loaded by htmx after the page so a slow broker never delays the dashboard."""
    account = selectors.account_overview(request.user)
    return render(request, "tradingweb/partials/account_card.html", {"account": account})


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request):
    """GET shows when the user's token was issued; POST issues a new one and shows its key this once, or revokes it.

    Tokens are stored as hashes, so the key cannot be shown again: the answer to the POST is the
    only page that holds it (not a redirect that would need to carry it).
    """
    if request.method == "POST" and request.POST.get("action") == "revoke":
        revoke_tokens(request.user)
        messages.success(request, "Token revoked: programs using it are refused from now on.")
        return redirect("api-token-page")
    if request.method == "POST":
        had_token = current_token(request.user) is not None
        token, key = rotate_token(request.user)
        messages.success(request, "Token rotated: the old key no longer works." if had_token else "API token created.")
        return render(request, "tradingweb/api_token.html", {"token": token, "new_key": key})
    return render(request, "tradingweb/api_token.html", {"token": current_token(request.user)})


# --- charts: the market beside the viewer's positions, strategies, decisions and drawn charts ---------------

# The switches above the charts; pages/charts.js knows what each draws and remembers them per session.
INDICATOR_TOGGLES = [
    ("sma", "SMA 20/50/200"),
    ("bollinger", "Bollinger"),
    ("supertrend", "SuperTrend"),
    ("volume", "Volume"),
    ("rsi", "RSI"),
    ("macd", "MACD"),
]


def default_instrument(user):
    """The instrument a trader most likely wants to see first: one they hold, trade or analyse."""
    held = positions_for(user).exclude(quantity=0).values_list("instrument__symbol", flat=True)
    watched = selectors.strategies_for(user).exclude(instruments=None).values_list("instruments__symbol", flat=True)
    return held.first() or watched.first() or Instrument.objects.values_list("symbol", flat=True).first()


@login_required
@require_GET
def charts(request):
    instruments = Instrument.objects.order_by("symbol")
    symbol = (request.GET.get("symbol") or "").strip().upper()
    instrument = instruments.filter(symbol=symbol).first() if symbol else None
    if symbol and instrument is None:
        messages.warning(request, f"No instrument {symbol} is known yet: add it to a strategy or place an order first.")
    if instrument is None:
        instrument = instruments.filter(symbol=default_instrument(request.user)).first()
    timeframe = request.GET.get("timeframe", DEFAULT_TIMEFRAME)
    if timeframe not in TIMEFRAMES:
        messages.warning(request, f"Unknown timeframe “{timeframe}”: showing {TIMEFRAMES[DEFAULT_TIMEFRAME].label}.")
        timeframe = DEFAULT_TIMEFRAME
    analysis = None
    if instrument:
        analysis = selectors.decisions_for(request.user).filter(instrument=instrument).exclude(analysis_text="").first()
    context = {
        "instruments": instruments,
        "instrument": instrument,
        "timeframes": TIMEFRAMES.values(),
        "timeframe": timeframe,
        "side_by_side": [TIMEFRAMES[DAILY], TIMEFRAMES[WEEKLY]],
        "indicator_toggles": INDICATOR_TOGGLES,
        "analysis": analysis,
        "rendered_charts": selectors.charts_for(request.user)[:6],
    }
    return render(request, "broker/charts.html", context)


@login_required
@require_GET
def chart_image(request, pk: int):
    """A chart's PNG streamed from the default storage (filesystem or S3), for a viewer allowed to see
    it (selectors.chart_for_viewer) or holding the chart API's grant for them (Chart.image_url)."""
    chart = selectors.chart_for_viewer(request.user, pk)
    if chart is None and request.GET.get("grant"):
        granted = Chart.objects.filter(pk=pk).first()
        chart = granted if granted and granted.granted_to(request.GET["grant"], request.user) else None
    if chart is None:
        raise Http404("No such chart")
    try:
        image = chart.image.open("rb")
    except FileNotFoundError as error:
        logger.warning("Chart %s has no image in the storage: %s", chart.pk, error)
        raise Http404("The chart's image is gone") from error
    response = FileResponse(image, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"  # a chart's image never changes
    return response
