"""Model providers belong to staff: traders read names and models only; staff edit them in the admin.

The authorization matrix covers /api/model-providers/ as a list like any other; these tests add
what is particular to it: no URL or key ever shows, no API method changes a provider, and the key
staff type in the admin is stored encrypted and never shown again.
"""

import pytest
from django.test import Client

from agents.calls import call_model
from agents.clients import ModelError
from agents.models import ModelProvider
from agents.providers import resolve_model
from tests.tradingweb.security.clients import send, session_client, token_client

URL = "/api/model-providers/"
SECRET_URL = "http://models.internal.example:8000/v1"
SECRET_KEY = "sk-lab-secret-0123456789"


@pytest.fixture
def lab(db):
    return ModelProvider.objects.create(
        name="lab", base_url=SECRET_URL, api_key_env="LAB_MODEL_KEY", allowed_models=["llama3", "qwen2"]
    )


def test_traders_and_their_tokens_see_provider_names_and_models_but_no_url_or_key(alice, lab, monkeypatch):
    monkeypatch.setenv("LAB_MODEL_KEY", SECRET_KEY)
    for client in (session_client(alice), token_client(alice)):
        response = client.get(URL)

        assert response.status_code == 200
        providers = {provider["name"]: provider for provider in response.json()}
        assert providers["lab"] == {"name": "lab", "models": ["llama3", "qwen2"], "offline": False}
        assert {"default", "offline"} <= set(providers)
        body = response.content.decode()
        assert "internal.example" not in body and SECRET_KEY not in body and "api.openai.com" not in body


def test_anonymous_callers_are_refused(api_client, lab):
    assert api_client.get(URL).status_code in (401, 403)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_no_api_method_creates_or_changes_a_provider_not_even_for_staff(alice, staff, lab, method):
    for user in (alice, staff):
        assert send(session_client(user), method, URL).status_code == 405
    assert list(ModelProvider.objects.values_list("name", "base_url")) == [("lab", SECRET_URL)]


def test_traders_are_sent_to_the_login_from_the_providers_admin(alice, lab):
    client = Client()
    client.force_login(alice)
    for url in ("/admin/agents/modelprovider/", f"/admin/agents/modelprovider/{lab.pk}/change/",
                "/admin/agents/modelprice/add/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    response = client.post(f"/admin/agents/modelprovider/{lab.pk}/change/", {"name": "lab", "base_url": "http://x/"})
    assert response.status_code == 302
    lab.refresh_from_db()
    assert lab.base_url == SECRET_URL


def test_staff_add_a_provider_whose_key_is_stored_encrypted_and_never_shown_again(staff):
    client = Client()
    client.force_login(staff)
    form = {
        "name": "lab", "base_url": SECRET_URL, "api_key_env": "", "api_key": SECRET_KEY,
        "allowed_models": '["llama3"]',
        "prices-TOTAL_FORMS": "1", "prices-INITIAL_FORMS": "0",
        "prices-0-model": "llama3", "prices-0-input_price": "0.10", "prices-0-output_price": "0.20",
    }

    response = client.post("/admin/agents/modelprovider/add/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    row = ModelProvider.objects.get(name="lab")
    assert row.api_key_encrypted and SECRET_KEY not in row.api_key_encrypted
    provider, model = resolve_model("lab", "llama3")
    assert provider.api_key == SECRET_KEY and provider.price(model) is not None
    for page in ("/admin/agents/modelprovider/", f"/admin/agents/modelprovider/{row.pk}/change/"):
        body = client.get(page).content.decode()
        assert SECRET_KEY not in body and row.api_key_encrypted not in body, page
    assert "stored, encrypted" in client.get("/admin/agents/modelprovider/").content.decode()


def test_staff_cannot_take_the_default_providers_name(staff):
    client = Client()
    client.force_login(staff)
    form = {"name": "default", "base_url": SECRET_URL, "allowed_models": '["x"]',
            "prices-TOTAL_FORMS": "0", "prices-INITIAL_FORMS": "0"}

    response = client.post("/admin/agents/modelprovider/add/", form)

    assert response.status_code == 200 and "is reserved" in response.content.decode()
    assert not ModelProvider.objects.exists()


def test_a_failing_providers_error_names_the_provider_not_its_url(settings, lab):
    settings.LLM_RETRY_BASE_SECONDS, settings.LLM_RETRY_BUDGET_SECONDS, settings.LLM_TIMEOUT = 0, 0, 2.0
    ModelProvider.objects.filter(pk=lab.pk).update(base_url="http://127.0.0.1:9/v1")  # nobody listens there

    with pytest.raises(ModelError) as failure:
        call_model(prompt="hi", provider="lab", model="llama3")

    assert "at provider lab" in str(failure.value) and "127.0.0.1:9" not in str(failure.value)


@pytest.mark.parametrize(("base_url", "saved"), [("http://vllm:8000/v1", True), ("ftp://models/v1", False),
                                                 ("not a url", False)])
def test_staff_may_name_a_service_by_host_but_only_an_http_url(staff, base_url, saved):
    client = Client()
    client.force_login(staff)
    form = {"name": "vllm", "base_url": base_url, "allowed_models": '["llama3"]',
            "prices-TOTAL_FORMS": "0", "prices-INITIAL_FORMS": "0"}

    response = client.post("/admin/agents/modelprovider/add/", form)

    assert ModelProvider.objects.filter(name="vllm").exists() is saved
    if not saved:
        assert "must be an http(s) URL with a host" in response.content.decode()
