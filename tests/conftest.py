import pytest
from django.contrib.auth.models import User


@pytest.fixture
def alice(db):
    """A trader who owns things."""
    return User.objects.create_user("alice", "alice@example.com", "alice-password")


@pytest.fixture
def bob(db):
    """Another trader, who must not see alice's things."""
    return User.objects.create_user("bob", "bob@example.com", "bob-password")


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", "staff@example.com", "staff-password", is_staff=True, is_superuser=True)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def alice_api(alice):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(alice)
    return client


@pytest.fixture
def bob_api(bob):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(bob)
    return client


@pytest.fixture
def staff_api(staff):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff)
    return client
