"""A trader builds a workflow from a template, meets a validation error, saves, reads the diff and reverts."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS, save_screenshots
from workflows.models import Workflow
from workflows.templates import TEMPLATES_BY_TYPE

pytestmark = pytest.mark.e2e


def node(page, step_id):
    return page.locator(f"[data-step-id='{step_id}'] [data-node-card]")


def screenshot(page, name: str, size: dict, *, full_page: bool = True) -> None:
    """docs/screenshots/<name>.png at one size, from the top, without the toasts of earlier actions."""
    page.set_viewport_size(size)
    page.evaluate("document.querySelectorAll('#toasts > *').forEach((toast) => toast.remove()); window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, animations="disabled")


def test_a_trader_builds_a_workflow_saves_a_version_diffs_and_reverts(logged_in_page, trader):
    page = logged_in_page
    page.goto("/workflows/")
    expect(page.locator("[data-empty-state]")).to_contain_text("No workflows yet")
    page.get_by_role("link", name="Start from a template").click()

    # The gallery: pick a template (its diagram shows its steps), name it, open the builder.
    save_screenshots(page, "workflow-templates")
    page.locator("[data-template='single_timeframe']").click()
    expect(page.get_by_label("Name")).to_have_value("Single Timeframe")
    page.get_by_label("Name").fill("My daily swing")
    page.get_by_role("button", name="Create and open the builder").click()
    expect(page).to_have_url(re.compile(r"/workflows/\d+/$"))
    expect(page.locator("#toasts")).to_contain_text("created from the Single Timeframe template")
    expect(page.locator("[data-valid]")).to_be_visible()
    expect(page.locator("[data-unsaved]")).to_be_hidden()
    workflow = Workflow.objects.get(owner=trader)
    template_steps = TEMPLATES_BY_TYPE["single_timeframe"]["steps"]
    expect(page.locator("[data-step-node]")).to_have_count(len(template_steps))

    # Add a condition after the decision: it branches to the risk check only when the model is confident.
    node(page, "decide").click()
    page.locator("[data-add-step='condition']").click()
    panel = page.locator("[data-step-panel]")
    expect(panel).to_contain_text("Condition")
    page.locator("#config-expression").fill("decision.confidence > 0.7")
    panel.locator("[data-field='then'] label", has_text="validate_risk").click()
    expect(page.locator("[data-branches] path[data-branch='then'][data-to='validate_risk']")).to_have_count(1)
    expect(node(page, "validate_risk")).to_contain_text("runs if Condition")

    # Add a wait at the end and configure it.
    node(page, "place_order").click()
    page.locator("[data-add-step='wait']").click()
    seconds = page.locator("#config-seconds")
    seconds.fill("30")
    seconds.press("Tab")
    expect(node(page, "wait")).to_contain_text("Seconds: 30")

    # A chart pointing at a fetch label that does not exist: the server's error shows on the node and in the list.
    node(page, "chart_daily").click()
    source = page.locator("#config-source")
    source.fill("hourly")
    expect(node(page, "chart_daily").locator("[data-node-error]")).to_contain_text(
        "no earlier fetch_data step is labelled 'hourly'"
    )
    expect(page.locator("[data-problems] [data-problem]").first).to_contain_text("labelled 'hourly'")
    expect(panel.locator("[data-field='source'] [data-field-error]")).to_be_visible()
    page.locator("[data-save]").click()
    expect(page.locator("#toasts")).to_contain_text("The workflow is invalid")
    assert workflow.versions.count() == 1
    page.problems.clear()  # that refused save answered 400, as it should

    source.fill("daily")
    expect(page.locator("[data-valid]")).to_be_visible()
    node(page, "fetch_daily").click()
    page.locator("#config-period").select_option("2y")
    expect(node(page, "fetch_daily")).to_contain_text("Period: 2y")

    node(page, "condition").click()
    screenshot(page, "builder-desktop", DESKTOP)
    page.get_by_role("button", name="Close step settings").click()
    screenshot(page, "builder-phone", PHONE)
    node(page, "condition").click()
    screenshot(page, "builder-step-phone", PHONE, full_page=False)
    page.set_viewport_size(DESKTOP)

    page.get_by_placeholder("Note for this version (optional)").fill("Confidence gate and a pause")
    page.locator("[data-save]").click()
    expect(page.locator("#toasts")).to_contain_text("Saved as version 2.")
    expect(page.locator("[data-version]")).to_have_text("v2")
    workflow.refresh_from_db()
    saved_ids = [step["id"] for step in workflow.steps]
    assert "condition" in saved_ids and saved_ids[-1] == "wait"
    assert workflow.current_version.note == "Confidence gate and a pause"
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#toasts")).to_contain_text("Workflow activated")
    expect(page.locator("[data-status='active']")).to_be_visible()

    # The diff: the new steps in green, the rest unchanged; then revert to v1.
    page.get_by_role("link", name="Versions").click()
    expect(page.get_by_role("heading", name="Changes from v1 to v2")).to_be_visible()
    after = page.locator("[data-diff-side='after']")
    expect(after.locator("[data-diff-step='condition']")).to_have_attribute("data-change", "added")
    expect(after.locator("[data-diff-step='wait']")).to_have_attribute("data-change", "added")
    expect(after.locator("[data-diff-step='fetch_daily']")).to_have_attribute("data-change", "modified")
    expect(after.locator("[data-diff-step='fetch_daily']")).to_contain_text("config.period")
    expect(after.locator("[data-diff-step='decide']")).to_have_attribute("data-change", "unchanged")
    save_screenshots(page, "workflow-versions")

    page.locator("[data-version='1'] [data-confirm-open]").click()
    page.locator("[data-confirm='revert-1']").click()
    expect(page.locator("#toasts")).to_contain_text("Reverted to v1: saved as v3.")
    workflow.refresh_from_db()
    assert workflow.version_number == 3
    assert workflow.steps == template_steps
    assert page.problems.messages == [], page.problems.messages


def test_steps_reorder_by_dragging_and_deleting_asks_first(logged_in_page, trader):
    from workflows.services import workflow_create

    template = TEMPLATES_BY_TYPE["custom"]
    workflow = workflow_create(owner=trader, name="Blank", steps=template["steps"], parameters=template["parameters"])
    page = logged_in_page
    page.goto(f"/workflows/{workflow.pk}/")
    expect(page.locator("[data-valid]")).to_be_visible()

    # Dragging the analysis above the chart breaks the reference, and the server says so.
    handle = page.locator("[data-step-id='analyze_daily'] [data-drag-handle]")
    target = node(page, "chart_daily")
    box = target.bounding_box()
    handle.hover()
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 5, steps=12)
    page.mouse.up()
    expect(page.locator("[data-step-node]").nth(1)).to_have_attribute("data-step-id", "analyze_daily")
    expect(node(page, "analyze_daily").locator("[data-node-error]")).to_contain_text("comes later")

    node(page, "analyze_daily").click()
    page.get_by_role("button", name="Move down").click()
    expect(page.locator("[data-step-node]").nth(2)).to_have_attribute("data-step-id", "analyze_daily")

    page.locator("[data-step-id='analyze_daily'] [data-delete-step]").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Delete step analyze_daily?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("[data-step-node]")).to_have_count(3)
    page.locator("[data-step-id='analyze_daily'] [data-delete-step]").click()
    page.locator("[data-confirm-delete-step]").click()
    expect(page.locator("[data-step-node]")).to_have_count(2)
    expect(page.locator("[data-problems]")).to_contain_text("needs at least one ai_analyze, decide or agent_team step")
    assert workflow.versions.count() == 1  # nothing is saved until the trader saves
    assert page.problems.messages == [], page.problems.messages


def test_the_builder_opens_a_step_as_a_sheet_on_phones(logged_in_page, trader):
    from workflows.services import workflow_create

    template = TEMPLATES_BY_TYPE["two_indicator"]
    workflow = workflow_create(owner=trader, name="Two TF", steps=template["steps"], parameters=template["parameters"])
    page = logged_in_page
    page.set_viewport_size(PHONE)
    page.goto(f"/workflows/{workflow.pk}/")
    panel = page.locator("[data-step-panel]")
    expect(panel).to_be_hidden()
    node(page, "consolidate").click()
    expect(panel).to_be_visible()
    expect(panel.locator("[data-field='inputs']")).to_contain_text("weekly")
    page.get_by_role("button", name="Close step settings").click()
    expect(panel).to_be_hidden()
    assert page.problems.messages == [], page.problems.messages
