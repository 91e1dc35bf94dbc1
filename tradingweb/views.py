"""The foundation pages: dashboard, one list page per section, the API token page.

Each view loads rows through tradingweb.selectors (owner-scoped) and renders; later pages may
replace the view behind a URL name without touching the navigation.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from tradingweb import selectors
from tradingweb.forms import LoginForm
from tradingweb.tokens import rotate_token


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
    """GET shows the user's API token; POST issues a new one (the old key stops working at once)."""
    if request.method == "POST":
        had_token = Token.objects.filter(user=request.user).exists()
        rotate_token(request.user)
        messages.success(request, "Token rotated: the old key no longer works." if had_token else "API token created.")
        return redirect("api-token-page")
    return render(request, "tradingweb/api_token.html", {"token": Token.objects.filter(user=request.user).first()})
