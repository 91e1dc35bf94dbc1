"""Strategies and workflows run from where a trader looks at them: each Run link opens the run page, preselected."""

from django.urls import reverse

from tests.tradingweb.navigation.links import hrefs_with
from workflows.models import Strategy


def run_url(**query) -> str:
    return reverse("executions-run") + "?" + "&".join(f"{key}={value}" for key, value in query.items())


def test_each_active_strategy_row_links_to_the_run_page_with_it_chosen(client, alice, alice_history):
    client.force_login(alice)
    html = client.get(reverse("strategies")).content.decode()
    assert hrefs_with(html, "data-run-strategy") == [run_url(strategy=alice_history.strategy.pk)]

    run_page = client.get(run_url(strategy=alice_history.strategy.pk))
    assert run_page.status_code == 200
    assert run_page.context["form"]["strategy"].value() == str(alice_history.strategy.pk)
    assert f'<option value="{alice_history.strategy.pk}" selected>' in run_page.content.decode()


def test_a_paused_strategy_offers_no_run_link_and_says_why(client, alice, alice_history):
    Strategy.objects.filter(pk=alice_history.strategy.pk).update(active=False)
    client.force_login(alice)
    html = client.get(reverse("strategies")).content.decode()
    assert hrefs_with(html, "data-run-strategy") == []
    assert "Paused: switch the strategy to active to run it" in html


def test_the_strategy_edit_page_has_a_run_action(client, alice, alice_history):
    client.force_login(alice)
    html = client.get(reverse("strategies-edit", args=[alice_history.strategy.pk])).content.decode()
    assert hrefs_with(html, "data-run-strategy") == [run_url(strategy=alice_history.strategy.pk)]


def test_the_workflow_list_and_builder_link_to_the_run_page_for_the_workflow(client, alice, alice_history):
    workflow = alice_history.workflow
    client.force_login(alice)
    for page in (reverse("workflows"), reverse("workflows-builder", args=[workflow.pk])):
        html = client.get(page).content.decode()
        assert hrefs_with(html, "data-run-workflow") == [run_url(workflow=workflow.pk)], page

    run_page = client.get(run_url(workflow=workflow.pk))
    assert run_page.status_code == 200
    assert run_page.context["workflow"] == workflow
    assert run_page.context["form"]["strategy"].value() == str(alice_history.strategy.pk)


def test_a_workflow_never_saved_as_a_version_offers_no_run_link(client, alice, alice_history):
    workflow = alice_history.workflow
    workflow.current_version = None
    workflow.save(update_fields=["current_version"])
    client.force_login(alice)
    html = client.get(reverse("workflows")).content.decode()
    assert hrefs_with(html, "data-run-workflow") == []
    assert "Save a version first" in html


def test_run_links_of_another_traders_strategy_are_not_shown_to_alice(client, alice, alice_history, bob_history):
    client.force_login(alice)
    html = client.get(reverse("strategies")).content.decode()
    assert run_url(strategy=bob_history.strategy.pk) not in html
    assert client.get(reverse("strategies-edit", args=[bob_history.strategy.pk])).status_code == 404


def test_staff_see_a_run_link_for_every_traders_strategy(client, staff, alice_history, bob_history):
    client.force_login(staff)
    html = client.get(reverse("strategies")).content.decode()
    assert sorted(hrefs_with(html, "data-run-strategy")) == sorted(
        [run_url(strategy=alice_history.strategy.pk), run_url(strategy=bob_history.strategy.pk)]
    )
