"""Every page says how it trades: a red banner in live mode, a label when the offline analyst decides."""

import pytest
from django.test import override_settings
from django.urls import reverse

LIVE_BANNER = 'id="live-banner"'


@pytest.mark.parametrize("name", ["dashboard", "orders", "portfolio", "strategies"])
def test_live_mode_puts_a_red_banner_on_every_page(client, alice, name):
    client.force_login(alice)
    with override_settings(TRADING_MODE="live"):
        html = client.get(reverse(name)).content.decode()
    assert LIVE_BANNER in html
    assert "LIVE TRADING" in html


def test_the_login_page_carries_the_live_banner_too(client, db):
    with override_settings(TRADING_MODE="live"):
        assert LIVE_BANNER in client.get(reverse("login")).content.decode()


def test_paper_mode_shows_no_banner(client, alice):
    client.force_login(alice)
    with override_settings(TRADING_MODE="paper"):
        html = client.get(reverse("dashboard")).content.decode()
    assert LIVE_BANNER not in html
    assert ">Paper<" in html


def test_the_offline_analyst_is_labelled_when_it_is_the_model(client, alice):
    client.force_login(alice)
    with override_settings(LLM_PROVIDER="offline"):
        assert "data-offline-analyst" in client.get(reverse("dashboard")).content.decode()
    with override_settings(LLM_PROVIDER="openai"):
        assert "data-offline-analyst" not in client.get(reverse("dashboard")).content.decode()
