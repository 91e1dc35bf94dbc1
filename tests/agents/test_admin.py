import pytest

from agents.models import AgentTemplate, LLMCall


@pytest.fixture
def staff_browser(client, staff):
    client.force_login(staff)
    return client


def test_staff_browse_model_calls_but_cannot_edit_them(staff_browser):
    call = LLMCall.objects.create(provider="openai", model="gpt-4o", prompt="p", response="r", error="HTTP 429")
    listing = staff_browser.get("/admin/agents/llmcall/?error__isempty=0")
    assert listing.status_code == 200 and b"gpt-4o" in listing.content
    assert staff_browser.get("/admin/agents/llmcall/add/").status_code == 403
    detail = staff_browser.get(f"/admin/agents/llmcall/{call.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content


def test_staff_edit_agent_templates(staff_browser):
    template = AgentTemplate.objects.get(name="RiskManager")  # installed by the data migration
    response = staff_browser.post(
        f"/admin/agents/agenttemplate/{template.pk}/change/",
        {"name": "RiskManager", "default_prompt": "Guard the downside.", "tools": "[]", "order": 2, "required": "on"},
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.default_prompt == "Guard the downside." and template.order == 2


@pytest.mark.parametrize("page", ["llmcall", "agentmessage", "approvalrequest", "agenttemplate"])
def test_only_staff_reach_the_agents_admin(client, alice, staff_browser, page):
    assert staff_browser.get(f"/admin/agents/{page}/").status_code == 200
    client.force_login(alice)
    assert client.get(f"/admin/agents/{page}/").status_code == 302
