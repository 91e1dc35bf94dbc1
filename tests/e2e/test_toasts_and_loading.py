"""Pages tell the trader what happened: toasts from the page's own code and for failed htmx requests."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_pages_can_raise_a_toast_that_goes_away_when_dismissed(logged_in_page):
    page = logged_in_page
    page.goto("/")
    page.evaluate("toast('Workflow queued on the high lane.', 'success')")
    toast = page.locator("#toasts [data-kind='success']", has_text="Workflow queued on the high lane.")
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)


def test_a_failed_htmx_request_is_reported_in_a_toast(logged_in_page):
    page = logged_in_page
    page.goto("/")
    page.evaluate(
        """() => {
            const button = document.createElement('button');
            button.id = 'broken';
            button.textContent = 'Load';
            button.setAttribute('hx-get', '/no-such-page/');
            document.querySelector('main').appendChild(button);
            htmx.process(button);
        }"""
    )
    page.click("#broken")
    expect(page.locator("#toasts [data-kind='error']")).to_contain_text("404")
