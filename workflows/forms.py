"""Forms of the workflow and strategy pages: they read the shape of the input; the services judge it."""

import json
import re

from django import forms

from workflows.models import Workflow
from workflows.parameters import BUILTIN_PARAMETERS, RESERVED_STRATEGY_KEYS
from workflows.steps import BARS, PERIODS
from workflows.templates import BUILTIN_TEMPLATES, LEGACY_DEFAULTS

SYMBOL_SEPARATORS = re.compile(r"[\s,;]+")
MAX_IMPORT_BYTES = 1_000_000
# The legacy flow (no workflow) understands these settings besides the built-ins.
LEGACY_PARAMETERS = [
    {
        "name": name,
        "type": "string",
        "default": default,
        "description": f"{'Period' if name.startswith('period') else 'Bar size'} of timeframe {name[-1]}.",
        "choices": PERIODS if name.startswith("period") else BARS,
    }
    for name, default in LEGACY_DEFAULTS.items()
]


def add_service_errors(form: forms.Form, errors: dict[str, list[str]]) -> None:
    """Puts a service's refusal on the form: each message under its field, the rest on the whole form."""
    for field, messages in errors.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


class NewWorkflowForm(forms.Form):
    template = forms.ChoiceField(choices=[(template["type"], template["name"]) for template in BUILTIN_TEMPLATES])
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. Tech daily swing"}))


class WorkflowImportForm(forms.Form):
    file = forms.FileField(
        label="Workflow file",
        help_text="A .json file exported from tradingweb (Export on a workflow's page).",
        widget=forms.ClearableFileInput(attrs={"accept": "application/json,.json"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is {upload.size:,} bytes; the limit is {MAX_IMPORT_BYTES:,}.")
        try:
            return json.loads(upload.read().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text: choose a .json file exported from a workflow.") \
                from exc
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"The file is not valid JSON (line {exc.lineno}: {exc.msg}).") from exc


def workflow_parameter_options(workflows) -> list[dict]:
    """What the strategy form's workflow picker shows: each workflow with the parameters a strategy may override."""
    options = [{
        "id": "",
        "name": "No workflow: legacy 2-indicator flow",
        "type": "legacy",
        "type_label": "Legacy",
        "status": "",
        "version": None,
        "parameters": LEGACY_PARAMETERS + BUILTIN_PARAMETERS,
    }]
    for workflow in workflows:
        declared = workflow.current_version.parameters if workflow.current_version else []
        declared_names = {parameter.get("name") for parameter in declared}
        options.append({
            "id": str(workflow.pk),
            "name": workflow.name,
            "type": workflow.type,
            "type_label": workflow.get_type_display(),
            "status": workflow.status,
            "version": workflow.version_number,
            "parameters": declared + [
                parameter for parameter in BUILTIN_PARAMETERS if parameter["name"] not in declared_names
            ],
        })
    return options


class StrategyForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. Mega-cap tech"}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    workflow = forms.ModelChoiceField(
        queryset=Workflow.objects.none(),
        required=False,
        empty_label="No workflow: legacy 2-indicator flow",
        help_text="The steps every run of this strategy follows.",
    )
    symbols = forms.CharField(
        required=False,
        help_text="Tickers to analyse, e.g. AAPL, MSFT. Unknown tickers are looked up at the broker.",
    )
    params = forms.JSONField(required=False, widget=forms.HiddenInput)
    active = forms.BooleanField(required=False, initial=True, help_text="Paused strategies are skipped by schedules.")
    human_approval = forms.BooleanField(
        required=False, help_text="Every decision waits for you to approve, reject or modify it before an order."
    )
    allow_live = forms.BooleanField(
        required=False,
        label="Allow live orders",
        help_text="Lets this strategy send orders to a live account when the server trades live; paper otherwise.",
    )

    def __init__(self, *args, owner, strategy=None, **kwargs):
        if strategy is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": strategy.name,
                "description": strategy.description,
                "workflow": strategy.workflow_id,
                "symbols": ", ".join(strategy.symbols),
                "params": self.overrides_of(strategy.params),
                "active": strategy.active,
                "human_approval": strategy.human_approval,
                "allow_live": strategy.allow_live,
            }
        super().__init__(*args, **kwargs)
        self.strategy = strategy
        self.fields["workflow"].queryset = (
            Workflow.objects.filter(owner=owner, deleted_at__isnull=True)
            .select_related("current_version")
            .order_by("name")
        )

    @staticmethod
    def overrides_of(params: dict) -> dict:
        """The parameter overrides of a strategy's params (settings such as autogen_config have their own place)."""
        return {name: value for name, value in (params or {}).items() if name not in RESERVED_STRATEGY_KEYS}

    def clean_symbols(self) -> list[str]:
        return [symbol for symbol in SYMBOL_SEPARATORS.split(self.cleaned_data["symbols"].upper()) if symbol]

    def clean_params(self) -> dict:
        params = self.cleaned_data["params"]
        if params in (None, ""):
            return {}
        if not isinstance(params, dict):
            raise forms.ValidationError("must be an object mapping parameter names to values")
        return params

    def service_params(self) -> dict:
        """The overrides to save, keeping the strategy settings this form does not edit."""
        kept = {}
        if self.strategy is not None:
            kept = {name: value for name, value in self.strategy.params.items() if name in RESERVED_STRATEGY_KEYS}
        return {**kept, **self.overrides_of(self.cleaned_data["params"])}

    def overrides_shown(self) -> dict:
        """The overrides the page shows: as posted (kept when refused, so nothing typed is lost), or as saved."""
        if not self.is_bound:
            return self.initial.get("params") or {}
        try:
            posted = json.loads(self.data.get("params") or "{}")
        except json.JSONDecodeError:
            return {}
        return posted if isinstance(posted, dict) else {}

    def parameter_errors(self) -> dict[str, str]:
        """Errors of single parameters ("risk_per_trade: must be a number") keyed by parameter, for inline display."""
        found = {}
        for message in self.errors.get("params", []):
            name, separator, text = message.partition(": ")
            if separator:
                found[name] = text
        return found

    def general_parameter_errors(self) -> list[str]:
        """Errors about the overrides as a whole, which no single parameter's input can show."""
        return [message for message in self.errors.get("params", []) if ": " not in message]
