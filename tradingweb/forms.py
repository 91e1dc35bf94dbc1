"""Forms of the foundation pages."""

from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    """Django's login form with the attributes password managers and phones look for."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
                "placeholder": "Your username",
            }
        )
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password", "placeholder": "••••••••"})
