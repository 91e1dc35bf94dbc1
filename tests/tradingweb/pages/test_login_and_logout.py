from django.urls import reverse


def test_it_signs_a_trader_in_and_sends_them_to_the_page_they_asked_for(client, alice):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "alice-password", "next": reverse("orders")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("orders")
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_wrong_password_shows_an_inline_error_and_signs_nobody_in(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-form-errors" in html
    assert "Please enter a correct username and password" in html
    assert client.get(reverse("dashboard")).status_code == 302


def test_an_empty_form_marks_each_missing_field(client, db):
    response = client.post(reverse("login"), {"username": "", "password": ""})
    html = response.content.decode()
    assert html.count("This field is required.") == 2


def test_logout_takes_a_post_and_ends_the_session(client, alice):
    client.force_login(alice)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_signed_in_user_is_not_shown_the_login_form_again(client, alice):
    client.force_login(alice)
    response = client.get(reverse("login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
