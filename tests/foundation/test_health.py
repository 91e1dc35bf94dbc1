import pytest
from django.test import override_settings

CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_it_reports_every_component_and_answers_200_when_the_critical_ones_work(api_client):
    response = api_client.get("/api/health/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] in {"ok", "degraded"}
    assert set(body["components"]) == {"database", "queue", "storage", "broker"}
    for name in ("database", "queue", "storage"):
        component = body["components"][name]
        assert component["ok"] is True and component["status"] == "ok", component
        assert component["critical"] is True
        assert component["message"]
    assert body["components"]["broker"]["critical"] is False


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
