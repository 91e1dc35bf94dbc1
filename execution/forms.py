"""Forms of the execution pages: they read the shape of the input; execution_create judges it."""

from django import forms

from execution.models import WorkflowExecution
from tradingweb import selectors


class RunForm(forms.Form):
    """Run a strategy (on its own workflow, or on the workflow the page was opened for)."""

    strategy = forms.ModelChoiceField(queryset=None, empty_label=None)
    workflow = forms.ModelChoiceField(queryset=None, required=False, widget=forms.HiddenInput)
    symbols = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave every box empty to run all the strategy's symbols.",
    )
    priority = forms.ChoiceField(
        choices=WorkflowExecution.Priority.choices,
        initial=WorkflowExecution.Priority.NORMAL,
        widget=forms.RadioSelect,
        help_text="Workers take high before normal before low.",
    )
    dry_run = forms.BooleanField(
        required=False, help_text="Analyse and decide, but place no order (a mock confirmation is recorded)."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["strategy"].queryset = selectors.strategies_for(user).filter(active=True).order_by("name")
        self.fields["workflow"].queryset = selectors.workflows_for(user).filter(current_version__isnull=False)
        symbols = sorted({symbol for strategy in self.fields["strategy"].queryset for symbol in strategy.symbols})
        self.fields["symbols"].choices = [(symbol, symbol) for symbol in symbols]

    def strategy_symbols(self) -> dict[str, list[str]]:
        """Each strategy's symbols by id, so the page shows only the chosen strategy's boxes."""
        return {str(strategy.pk): strategy.symbols for strategy in self.fields["strategy"].queryset}
