"""The API's lists page by signed keyset cursors, keep limit/offset for older clients, and refuse bad paging
with a 400 that names the field."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from execution.models import WorkflowExecution
from tradingweb import pagination

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def add_executions(owner, count: int, *, same_time_every: int = 3) -> list[int]:
    """`count` executions, several sharing each created_at (so the id breaks ties), newest first as the list
    orders them."""
    rows = WorkflowExecution.objects.bulk_create(WorkflowExecution(owner=owner) for _ in range(count))
    for n, row in enumerate(rows):
        row.created_at = START + timedelta(minutes=n // same_time_every)
        row.completed_at = None if n % 4 == 0 else START - timedelta(minutes=n % 7)
    WorkflowExecution.objects.bulk_update(rows, ["created_at", "completed_at"])
    return [row.pk for row in sorted(rows, key=lambda row: (row.created_at, row.pk), reverse=True)]


def walk(client, url: str, link: str = "next") -> list[int]:
    """Every id the list gives, following its `link` links from `url`."""
    ids = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        page = response.json()
        ids.extend(row["id"] for row in page["results"])
        url = page[link]
    return ids


def query(link: str) -> dict:
    return {name: values[0] for name, values in parse_qs(urlsplit(link).query).items()}


@pytest.mark.django_db
def test_next_links_walk_every_row_once_in_the_list_s_order(alice, alice_api):
    expected = add_executions(alice, 23)
    first = alice_api.get("/api/workflow-executions/?limit=5").json()
    assert first["count"] == 23 and first["count_exact"] and first["has_more"]
    assert first["previous"] is None
    assert "cursor" in query(first["next"]) and "offset" not in query(first["next"])
    assert walk(alice_api, "/api/workflow-executions/?limit=5") == expected


@pytest.mark.django_db
def test_the_last_page_says_there_is_no_more(alice, alice_api):
    add_executions(alice, 4)
    page = alice_api.get("/api/workflow-executions/?limit=4").json()
    assert len(page["results"]) == 4
    assert page["has_more"] is False and page["next"] is None


@pytest.mark.django_db
def test_previous_links_walk_back_to_the_first_page(alice, alice_api):
    expected = add_executions(alice, 17)
    url = "/api/workflow-executions/?limit=4"
    while (page := alice_api.get(url).json())["next"]:
        url = page["next"]
    last_page = [row["id"] for row in page["results"]]
    backwards = walk(alice_api, page["previous"], link="previous")
    assert last_page == expected[16:]
    pages = [expected[n : n + 4] for n in range(0, 16, 4)]
    assert backwards == [row for chunk in reversed(pages) for row in chunk]


@pytest.mark.django_db
def test_a_previous_page_links_forward_to_the_page_it_came_from(alice, alice_api):
    expected = add_executions(alice, 12)
    second = alice_api.get(alice_api.get("/api/workflow-executions/?limit=4").json()["next"]).json()
    back = alice_api.get(second["previous"]).json()
    assert [row["id"] for row in back["results"]] == expected[:4]
    assert back["previous"] is None
    assert [row["id"] for row in alice_api.get(back["next"]).json()["results"]] == expected[4:8]


@pytest.mark.django_db
def test_cursors_walk_an_ordering_by_a_field_that_may_be_empty(alice, alice_api):
    add_executions(alice, 19)
    rows = WorkflowExecution.objects.filter(owner=alice)
    filled = sorted((row for row in rows if row.completed_at), key=lambda row: (row.completed_at, row.pk))
    empty = sorted(row.pk for row in rows if row.completed_at is None)
    expected = [row.pk for row in filled] + empty  # rows without a value come last
    assert walk(alice_api, "/api/workflow-executions/?ordering=completed_at&limit=3") == expected


@pytest.mark.django_db
def test_the_cursor_keeps_the_list_s_filters(alice, alice_api):
    add_executions(alice, 9)
    WorkflowExecution.objects.filter(pk__in=WorkflowExecution.objects.order_by("pk").values("pk")[:5]).update(
        status="failed"
    )
    failed = set(WorkflowExecution.objects.filter(status="failed").values_list("pk", flat=True))
    assert set(walk(alice_api, "/api/workflow-executions/?status=failed&limit=2")) == failed


@pytest.mark.django_db
def test_limit_and_offset_keep_working_for_older_clients(alice, alice_api):
    expected = add_executions(alice, 10)
    page = alice_api.get("/api/workflow-executions/?limit=3&offset=3").json()
    assert [row["id"] for row in page["results"]] == expected[3:6]
    assert page["count"] == 10 and page["has_more"]
    assert query(page["next"])["offset"] == "6" and query(page["previous"])["offset"] == "0"
    last = alice_api.get("/api/workflow-executions/?limit=3&offset=9").json()
    assert [row["id"] for row in last["results"]] == expected[9:]
    assert last["next"] is None and last["has_more"] is False


@pytest.mark.django_db
def test_a_limit_above_the_maximum_is_clamped(alice, alice_api):
    add_executions(alice, pagination.MAX_LIMIT + 3)
    page = alice_api.get("/api/workflow-executions/?limit=10000").json()
    assert len(page["results"]) == pagination.MAX_LIMIT
    assert page["has_more"]


@pytest.mark.django_db
def test_a_large_list_gives_an_estimated_count(alice, alice_api):
    add_executions(alice, pagination.EXACT_COUNT_LIMIT + 1)
    page = alice_api.get("/api/workflow-executions/?limit=1").json()
    assert page["count_exact"] is False
    assert page["count"] > pagination.EXACT_COUNT_LIMIT / 2  # an estimate, of the right size
    assert page["has_more"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("cursor=not-a-cursor", "cursor"),
        ("status=bogus", "status"),
    ],
)
def test_bad_paging_is_a_400_naming_the_field(alice, alice_api, params, field):
    add_executions(alice, 3)
    response = alice_api.get(f"/api/workflow-executions/?{params}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_a_tampered_cursor_is_refused(alice, alice_api):
    add_executions(alice, 6)
    cursor = query(alice_api.get("/api/workflow-executions/?limit=2").json()["next"])["cursor"]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    response = alice_api.get(f"/api/workflow-executions/?cursor={tampered}")
    assert response.status_code == 400 and "cursor" in response.json()


@pytest.mark.django_db
def test_a_cursor_of_another_ordering_or_list_is_refused(alice, alice_api):
    add_executions(alice, 6)
    cursor = query(alice_api.get("/api/workflow-executions/?limit=2").json()["next"])["cursor"]
    other_order = alice_api.get(f"/api/workflow-executions/?ordering=completed_at&cursor={cursor}")
    assert other_order.status_code == 400 and "cursor" in other_order.json()
    other_list = alice_api.get(f"/api/orders/?cursor={cursor}")
    assert other_list.status_code == 400 and "cursor" in other_list.json()


@pytest.mark.django_db
def test_a_cursor_and_an_offset_together_are_refused(alice, alice_api):
    add_executions(alice, 6)
    cursor = query(alice_api.get("/api/workflow-executions/?limit=2").json()["next"])["cursor"]
    response = alice_api.get(f"/api/workflow-executions/?cursor={cursor}&offset=2")
    assert response.status_code == 400 and "cursor" in response.json()


@pytest.mark.django_db
def test_another_trader_s_rows_are_not_in_the_pages(alice, bob, alice_api):
    mine = add_executions(alice, 5)
    add_executions(bob, 5)
    assert walk(alice_api, "/api/workflow-executions/?limit=2") == mine
