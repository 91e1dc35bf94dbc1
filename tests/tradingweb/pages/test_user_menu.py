from django.urls import reverse


def test_staff_get_a_link_to_the_admin(client, staff):
    client.force_login(staff)
    html = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("admin:index")}"' in html


def test_traders_get_no_admin_link(client, alice):
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("admin:index")}"' not in html
    assert f'href="{reverse("api-token-page")}"' in html


def test_logging_out_is_a_form_that_posts(client, alice):
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    assert f'<form method="post" action="{reverse("logout")}"' in html
