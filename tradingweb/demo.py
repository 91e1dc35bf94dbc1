"""Demo data for a fresh installation: a trader, a staff user, instruments, workflows, strategies.

`seed_demo_data()` is idempotent: it creates only what is missing and never changes an
existing row, so running it on every start (the embedded launcher does) is safe. Passwords
are generated once and kept in VAR_DIR/demo-credentials.json (readable by the owner only)
so every later run can print them again.
"""

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from broker.instruments import qualify_symbol
from broker.models import Instrument
from workflows.models import Strategy, Workflow
from workflows.services import install_builtin_templates, strategy_create

DEMO_TRADER = "demo"
DEMO_STAFF = "admin"
DEMO_SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "TSLA", "SPY", "QQQ"]
# Two strategies that show both kinds of flow: a single LLM over indicators, and an approval step.
DEMO_STRATEGIES = [
    {
        "name": "Mega-cap tech momentum",
        "description": "Two-indicator multi-timeframe analysis of the largest technology names.",
        "workflow_type": "two_indicator",
        "symbols": ["AAPL", "MSFT", "NVDA"],
        "human_approval": False,
    },
    {
        "name": "Index trend with approval",
        "description": "Daily trend of the broad indices; every proposed trade waits for the trader's approval.",
        "workflow_type": "single_timeframe",
        "symbols": ["SPY", "QQQ"],
        "human_approval": True,
    },
]


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    credentials: dict[str, str | None] = field(default_factory=dict)

    def lines(self) -> list[str]:
        summary = ", ".join(self.created) if self.created else "nothing new (already seeded)"
        lines = [f"Demo data: {summary}."]
        for username, role in ((DEMO_TRADER, "trader"), (DEMO_STAFF, "staff ")):
            password = self.credentials.get(username)
            shown = password or "(password changed since seeding; reset it with `manage.py changepassword`)"
            lines.append(f"  {role} login: {username} / {shown}")
        return lines


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def load_saved_passwords() -> dict[str, str]:
    path = credentials_path()
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def save_passwords(passwords: dict[str, str]) -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(passwords, indent=2))


def ensure_user(username: str, *, staff: bool, saved_passwords: dict[str, str], report: SeedReport):
    """Creates the user with a fresh password, or reports the saved one if it still works."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_model.objects.create_user(
            username, f"{username}@example.com", password, is_staff=staff, is_superuser=staff
        )
        saved_passwords[username] = password
        report.created.append(f"user {username}")
    saved = saved_passwords.get(username)
    report.credentials[username] = saved if saved and user.check_password(saved) else None
    return user


def ensure_instruments(report: SeedReport) -> None:
    before = Instrument.objects.count()
    for symbol in DEMO_SYMBOLS:
        qualify_symbol(symbol)
    added = Instrument.objects.count() - before
    if added:
        report.created.append(f"{added} instruments")


def ensure_template_workflows(owner, report: SeedReport) -> dict[str, Workflow]:
    """One active workflow per built-in template, by type."""
    before = Workflow.objects.filter(owner=owner).count()
    workflows = install_builtin_templates(owner=owner, activate=True)
    added = Workflow.objects.filter(owner=owner).count() - before
    if added:
        report.created.append(f"{added} workflows from the built-in templates")
    return {workflow.type: workflow for workflow in workflows}


def ensure_strategies(owner, workflows: dict[str, Workflow], report: SeedReport) -> None:
    for spec in DEMO_STRATEGIES:
        if Strategy.objects.filter(owner=owner, name=spec["name"]).exists():
            continue
        strategy_create(
            owner=owner,
            name=spec["name"],
            description=spec["description"],
            workflow=workflows[spec["workflow_type"]],
            symbols=spec["symbols"],
            human_approval=spec["human_approval"],
        )
        report.created.append(f"strategy {spec['name']!r}")


def seed_demo_data() -> SeedReport:
    report = SeedReport()
    saved_passwords = load_saved_passwords()
    with transaction.atomic():
        trader = ensure_user(DEMO_TRADER, staff=False, saved_passwords=saved_passwords, report=report)
        ensure_user(DEMO_STAFF, staff=True, saved_passwords=saved_passwords, report=report)
        ensure_instruments(report)
        ensure_strategies(trader, ensure_template_workflows(trader, report), report)
    save_passwords(saved_passwords)
    return report
