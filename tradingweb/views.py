"""The foundation pages: dashboard, one list page per section, the API token page.

Each view loads rows through tradingweb.selectors (owner-scoped) and renders; later pages may
replace the view behind a URL name without touching the navigation.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tradingweb import selectors
from tradingweb.forms import LoginForm
from tradingweb.tokens import current_token, revoke_tokens, rotate_token


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
