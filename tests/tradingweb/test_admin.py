"""Every model registered in the admin (by any app, now or later) renders for staff."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def admin_url(model, view: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _ in REGISTERED])
def test_staff_can_open_the_changelist_and_add_page_of_every_registered_model(client, staff, model, model_admin):
    client.force_login(staff)
    request = RequestFactory().get("/")
    request.user = staff

    # follow: an admin may send its changelist on to a page of its own (a singleton's change form).
    changelist = client.get(admin_url(model, "changelist"), follow=True)
    assert changelist.status_code == 200
    assert reverse("admin:login") not in changelist.request["PATH_INFO"]

    add_page = client.get(admin_url(model, "add"), follow=True)
    assert add_page.status_code == (200 if model_admin.has_add_permission(request) else 403)


@pytest.mark.django_db
def test_the_admin_sends_a_trader_to_the_admin_login(client, alice):
    client.force_login(alice)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_a_trader_cannot_open_a_changelist_or_add_page(client, alice):
    client.force_login(alice)

    for url in (reverse("admin:auth_user_changelist"), reverse("admin:auth_user_add")):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]
