"""A trader signs in, reads the dashboard and walks every section, on a desktop and on a phone."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, TABLET, TRADER_PASSWORD, save_screenshots
from tests.support.seed import busy_trader
from tradingweb.templatetags.ui import NAVIGATION

pytestmark = pytest.mark.e2e


def test_a_trader_signs_in_through_the_form_and_sees_the_dashboard(page, trader, live_server):
    busy_trader(trader)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    save_screenshots(page, "login")

    page.get_by_label("Username").fill("trader")
    page.get_by_label("Password").fill(TRADER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    # The account card arrives by htmx: figures from the broker, or why it is unavailable.
    expect(page.locator("#account-summary [data-stat='Equity'], [data-broker-unavailable]").first).to_be_visible()
    expect(page.locator("#recent-executions")).to_contain_text("AutoGen team workflow")
    expect(page.locator("#recent-decisions")).to_contain_text("Blocked by risk")
    expect(page.locator("#open-positions")).to_contain_text("NVDA")
    assert page.problems.messages == []
    save_screenshots(page, "dashboard")


def test_every_nav_item_opens_its_page_without_errors(logged_in_page):
    page = logged_in_page
    page.goto("/")
    for item in NAVIGATION:
        link = page.locator(f"#sidebar a[data-nav='{item.url_name}']")
        with page.expect_navigation() as navigation:
            link.click()
        assert navigation.value.status == 200, item.url_name
        expect(page.locator(f"#sidebar a[data-nav='{item.url_name}']")).to_have_attribute("aria-current", "page")
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert page.problems.messages == [], item.url_name


def test_the_phone_layout_opens_the_menu_from_the_hamburger(logged_in_page):
    page = logged_in_page
    page.set_viewport_size(PHONE)
    page.goto("/")
    expect(page.locator("#sidebar")).to_be_hidden()
    expect(page.locator("#mobile-menu")).to_be_hidden()

    page.get_by_role("button", name="Open menu").click()
    menu = page.locator("#mobile-menu")
    expect(menu).to_be_visible()
    menu.get_by_role("link", name="Portfolio").click()

    expect(page).to_have_url(re.compile(r"/portfolio/$"))
    expect(page.get_by_role("heading", name="Portfolio", exact=True)).to_be_visible()
    assert page.problems.messages == []


def test_the_sidebar_collapses_to_icons_and_expands_again(logged_in_page):
    page = logged_in_page
    page.set_viewport_size(TABLET)
    page.goto("/strategies/")
    label = page.locator("#sidebar a[data-nav='orders'] span")
    expect(label).to_be_hidden()  # tablets start with the icon rail

    page.get_by_role("button", name="Expand sidebar").click()
    expect(label).to_be_visible()
    page.reload()
    expect(label).to_be_visible()  # the choice is remembered

    page.get_by_role("button", name="Collapse sidebar").click()
    expect(label).to_be_hidden()


def test_a_wrong_password_shows_an_inline_error(page, trader):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("trader")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("[data-form-errors]")).to_contain_text("Please enter a correct username and password")
    expect(page.get_by_label("Username")).to_have_value("trader")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_rotating_the_api_token_confirms_with_a_toast(logged_in_page):
    page = logged_in_page
    page.goto("/accounts/token/")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#toasts")).to_contain_text("API token created.")
    first_key = page.locator("[data-token]").input_value()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate token").click()
    expect(page.locator("#toasts")).to_contain_text("Token rotated")
    assert page.locator("[data-token]").input_value() != first_key
    assert page.problems.messages == []
