import pytest
from django.test import override_settings

CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_it_reports_every_component_and_answers_200_when_the_critical_ones_work(api_client):
    response = api_client.get("/api/health/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] in {"ok", "degraded"}
    assert set(body["components"]) == {"database", "queue", "storage", "broker", "sandbox"}
    for name in ("database", "queue", "storage"):
        component = body["components"][name]
        assert component["ok"] is True and component["status"] == "ok", component
        assert component["critical"] is True
        assert component["message"]
    assert body["components"]["broker"]["critical"] is False
    sandbox = body["components"]["sandbox"]
    assert sandbox["ok"] is True and sandbox["critical"] is False, sandbox
    assert sandbox["details"] == {"mode": "bubblewrap", "isolated": True}


@pytest.mark.django_db
def test_it_answers_503_and_names_the_queue_when_redis_is_unreachable(api_client):
    with override_settings(CELERY_BROKER_URL=CLOSED_REDIS_URL):
        response = api_client.get("/api/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    queue = body["components"]["queue"]
    assert queue["ok"] is False and queue["status"] == "error"
    assert "127.0.0.1:1" in queue["message"]
    assert body["components"]["database"]["ok"] is True


@pytest.mark.django_db
def test_it_answers_503_when_storage_cannot_be_written(api_client, tmp_path):
    blocked_file = tmp_path / "not-a-directory"
    blocked_file.write_text("a file where the media directory should be")

    with override_settings(MEDIA_ROOT=blocked_file):
        response = api_client.get("/api/health/")

    assert response.status_code == 503
    assert response.json()["components"]["storage"]["ok"] is False


@pytest.mark.django_db
def test_it_needs_no_login_and_ignores_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = api_client.get("/api/health/")

    assert response.status_code == 200


@pytest.mark.django_db
def test_it_hides_the_broker_password(api_client):
    with override_settings(CELERY_BROKER_URL="redis://:s3cret-password@127.0.0.1:1/0"):
        response = api_client.get("/api/health/")

    assert "s3cret-password" not in response.content.decode()


@pytest.mark.django_db
def test_it_reports_the_sandbox_down_with_the_install_command_when_bubblewrap_is_missing(api_client, tmp_path):
    with override_settings(SANDBOX_BWRAP_PATH=str(tmp_path / "no-bwrap-here")):
        response = api_client.get("/api/health/")

    assert response.status_code == 200  # only untrusted code is off; the rest works
    body = response.json()
    assert body["status"] == "degraded"
    sandbox = body["components"]["sandbox"]
    assert sandbox["ok"] is False and sandbox["details"] == {"mode": "unavailable", "isolated": False}
    assert "apt-get install bubblewrap" in sandbox["message"] and "no-bwrap-here" in sandbox["message"]


@pytest.mark.django_db
def test_it_warns_loudly_when_staff_turned_the_sandbox_unisolated(api_client):
    with override_settings(SANDBOX_UNISOLATED=True):
        response = api_client.get("/api/health/")

    sandbox = response.json()["components"]["sandbox"]
    assert sandbox["ok"] is False and sandbox["details"] == {"mode": "unisolated", "isolated": False}
    assert sandbox["message"].startswith("UNISOLATED")
