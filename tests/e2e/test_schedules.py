"""A trader schedules a workflow: the cron helper, the sentence and next runs as they type, toggle, delete."""

import pytest
from playwright.sync_api import expect

from execution.models import Schedule
from tests.e2e.conftest import save_screenshots
from tests.execution.conftest import make_strategy, workflow_from_template

pytestmark = pytest.mark.e2e


def test_a_trader_creates_a_schedule_sees_its_next_runs_pauses_and_deletes_it(logged_in_page, trader):
    page = logged_in_page
    strategy = make_strategy(trader, workflow_from_template(trader, "single_timeframe"), name="Morning scan")

    page.goto("/schedules/")
    expect(page.locator("[data-schedule-rows] [data-empty-state]")).to_contain_text("No schedules yet")
    page.locator("[data-new-schedule]").click()
    form = page.locator("[data-schedule-form]")
    expect(form).to_be_visible()

    # The helper: weekdays at 14:30 UTC.
    form.locator("[data-every-unit]").select_option("weekdays")
    form.locator("[data-every-time]").fill("14:30")
    expect(form.locator("[data-schedule-cron]")).to_have_value("30 14 * * 1-5")
    expect(form.locator("[data-cron-description]")).to_have_text("At 14:30, Monday through Friday (UTC)")
    expect(form.locator("[data-next-runs] li")).to_have_count(5)
    expect(form.locator("[data-next-runs] li").first).to_contain_text("14:30 UTC")

    # Every 4 hours, then a raw expression with a mistake, then fixed.
    form.locator("[data-every-unit]").select_option("hours")
    form.locator("[data-every-n]").fill("4")
    expect(form.locator("[data-schedule-cron]")).to_have_value("0 */4 * * *")
    form.locator("[data-cron-mode='cron']").click()
    form.locator("[data-schedule-cron]").fill("61 9 * * *")
    expect(form.locator("[data-cron-error]")).to_contain_text("invalid cron expression")
    expect(form.locator("[data-next-runs]")).to_be_hidden()
    page.problems.clear()  # the preview's 400 for the mistake is expected; nothing else may fail
    form.locator("[data-schedule-cron]").fill("15 9 * * 1")
    expect(form.locator("[data-cron-description]")).to_contain_text("At 09:15, only on Monday")
    expect(form.locator("[data-next-runs] li")).to_have_count(5)
    form.locator("[data-schedule-description]").fill("Monday open")
    save_screenshots(page, "schedule-editor")

    form.locator("[data-save-schedule]").click()
    expect(page.locator("#toasts")).to_contain_text("Schedule created: next run")
    schedule = Schedule.objects.get()
    assert (schedule.strategy, schedule.cron_expression, schedule.enabled) == (strategy, "15 9 * * 1", True)
    row = page.locator(f"[data-schedule='{schedule.pk}']")
    expect(row).to_contain_text("Monday open")
    expect(row.locator("[data-next-run] time")).to_contain_text("09:15 UTC")
    page.evaluate("document.querySelectorAll('#toasts > *').forEach((toast) => toast.remove())")
    save_screenshots(page, "schedules")

    row.locator("[data-toggle-schedule]").click()
    expect(row.locator("[data-toggle-schedule]")).to_have_attribute("aria-checked", "false")
    expect(row.locator("[data-next-run]")).to_contain_text("paused")
    schedule.refresh_from_db()
    assert schedule.enabled is False
    assert schedule.periodic_task.enabled is False

    row.locator("[data-edit-schedule]").click()
    expect(form.locator("[data-schedule-cron]")).to_have_value("15 9 * * 1")
    form.locator("[data-schedule-cron]").fill("0 8 * * *")
    form.locator("[data-save-schedule]").click()
    expect(page.locator("#toasts")).to_contain_text("Schedule saved.")
    expect(row).to_contain_text("0 8 * * *")

    row.locator("[data-delete-schedule]").click()
    page.locator("[data-confirm-delete-schedule]").click()
    expect(page.locator("[data-schedule-rows] [data-empty-state]")).to_be_visible()
    assert not Schedule.objects.exists()
    assert page.problems.messages == []


def test_a_refused_schedule_shows_the_servers_reason_and_saves_nothing(logged_in_page, trader):
    page = logged_in_page
    strategy = make_strategy(trader, workflow_from_template(trader, "single_timeframe"), name="Paused one")
    page.goto("/schedules/")
    strategy.active = False  # switched off in another tab after the page was loaded
    strategy.save(update_fields=["active"])
    page.locator("[data-new-schedule]").click()
    form = page.locator("[data-schedule-form]")
    expect(form.locator("[data-next-runs] li")).to_have_count(5)
    form.locator("[data-save-schedule]").click()
    expect(form).to_contain_text("is not active")
    assert not Schedule.objects.exists()
