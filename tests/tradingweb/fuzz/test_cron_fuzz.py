"""Cron expressions typed by a trader: valid ones describe themselves and give increasing UTC runs;
anything else is a ValidationError on cron_expression (400 from the API) and saves no schedule."""

import datetime
import itertools

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from execution.models import Schedule
from execution.schedules import cron_slots, describe_cron
from tests.tradingweb.fuzz.conftest import FUZZ

cron_field = st.text(alphabet="0123456789*/,-?LW#", min_size=1, max_size=6) | st.sampled_from(
    ["*", "*/5", "0", "59", "60", "1-5", "5-1", "MON-FRI", "JAN", "0/0", "*/0", "99999999999", "1,2,,3", "L", "-"]
)
cron_expressions = (
    st.lists(cron_field, min_size=5, max_size=5).map(" ".join)
    | st.lists(cron_field, min_size=0, max_size=7).map(" ".join)
    | st.text(max_size=30)
)
START = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=datetime.UTC)


@FUZZ
@given(expression=cron_expressions)
def test_an_expression_is_described_with_increasing_utc_runs_or_refused_with_a_cron_error(expression):
    try:
        description = describe_cron(expression)
    except ValidationError as refusal:
        assert refusal.message_dict["cron_expression"]
        return
    runs = list(itertools.islice(cron_slots(expression, START), 5))
    assert description
    assert all(run.utcoffset() == datetime.timedelta(0) for run in runs)
    assert all(earlier < later for earlier, later in itertools.pairwise([START, *runs]))


@pytest.mark.django_db
@FUZZ
@given(expression=cron_expressions)
def test_the_schedule_api_saves_a_valid_cron_and_refuses_any_other_with_a_field_error(
    alice_api, alice_world, expression
):
    before = Schedule.objects.count()
    response = alice_api.post(
        f"/api/workflows/{alice_world.workflow.pk}/schedule/",
        {"cron_expression": expression, "strategy_id": alice_world.strategy.pk},
        format="json",
    )
    try:
        describe_cron(expression)
    except ValidationError:
        assert response.status_code == 400, response.content
        assert "cron_expression" in response.json()
        assert Schedule.objects.count() == before
    else:
        assert response.status_code == 201, response.content
        assert Schedule.objects.count() == before + 1


@pytest.mark.django_db
@FUZZ
@given(expression=cron_expressions)
def test_the_cron_preview_answers_200_or_400(alice_api, expression):
    response = alice_api.get("/api/schedules/preview/", {"cron": expression})
    assert response.status_code in (200, 400), response.content
