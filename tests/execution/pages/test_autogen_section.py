"""The strategy form carries the AutoGen team section; it needs a saved strategy to configure."""

from django.urls import reverse


def test_an_existing_strategy_gets_the_team_editor_bound_to_its_id(client, alice, alice_history):
    client.force_login(alice)
    html = client.get(reverse("strategies-edit", args=[alice_history.strategy.pk])).content.decode()
    assert "AutoGen agent team" in html
    assert f'x-data="autogenConfig({alice_history.strategy.pk})"' in html
    assert "build/pages/autogen-config.js" in html


def test_a_new_strategy_is_told_to_save_first(client, alice):
    client.force_login(alice)
    html = client.get(reverse("strategies-new")).content.decode()
    assert "data-autogen-new" in html
    assert 'x-data="autogenConfig(null)"' in html
