import pytest
from django.urls import reverse

PAGES = [
    "dashboard",
    "dashboard-account",
    "strategies",
    "workflows",
    "executions",
    "tasks",
    "schedules",
    "analytics",
    "orders",
    "portfolio",
    "charts",
    "api-token-page",
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", PAGES)
def test_it_renders_every_page_for_a_signed_in_trader(client, alice, name):
    client.force_login(alice)
    response = client.get(reverse(name))
    assert response.status_code == 200
