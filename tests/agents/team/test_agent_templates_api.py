"""GET /api/autogen/agent-templates/: the five templates, as data staff can edit."""

from agents.models import AgentTemplate


def test_it_lists_the_five_templates_with_prompt_model_and_tools(alice_api):
    response = alice_api.get("/api/autogen/agent-templates/")

    assert response.status_code == 200
    templates = {template["name"]: template for template in response.json()}
    assert list(templates) == ["TechnicalAnalyst", "RiskManager", "Fundamental", "Sentiment", "Executor"]
    for template in templates.values():
        assert template["description"] and template["default_prompt"] and template["recommended_model"]
    assert {"risk_calculator", "position_sizer", "market_data"} <= set(templates["RiskManager"]["tools"])
    assert templates["Fundamental"]["tools"] == ["fundamentals"] and not templates["Fundamental"]["required"]
    assert "FINAL DECISION" in templates["Executor"]["default_prompt"]


def test_a_template_edited_by_staff_is_what_the_api_shows(alice_api):
    template = AgentTemplate.objects.get(name="Sentiment")
    template.default_prompt = "Read the news carefully."
    template.save()

    templates = {t["name"]: t for t in alice_api.get("/api/autogen/agent-templates/").json()}

    assert templates["Sentiment"]["default_prompt"] == "Read the news carefully."


def test_it_requires_login(api_client, db):
    assert api_client.get("/api/autogen/agent-templates/").status_code in (401, 403)
