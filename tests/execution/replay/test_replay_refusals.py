"""What a replay refuses: someone else's execution, and inputs that are not the ones the original run saw."""

import pytest
from django.core.exceptions import PermissionDenied

from execution.models import StepRun, WorkflowExecution
from execution.replay import execution_replay


@pytest.mark.django_db
def test_it_refuses_another_traders_execution_and_creates_nothing(alice, bob):
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], status="completed")

    with pytest.raises(PermissionDenied):
        execution_replay(execution=execution, mode="stored", user=bob)

    assert WorkflowExecution.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_frozen_bars_that_no_longer_match_their_hash_fail_the_symbol_and_show_in_the_report(alice, finished_execution):
    fetch = StepRun.objects.get(execution=finished_execution, symbol="AAPL", step_id="fetch_daily")
    fetch.output["frozen_bars"]["close"][-1] += 1.0
    fetch.save(update_fields=["output"])

    report = execution_replay(execution=finished_execution, mode="stored", user=alice)

    assert report.identical is False
    by_symbol = {diff.symbol: diff for diff in report.decisions}
    assert by_symbol["AAPL"].replayed is None and "do not match their recorded hash" in by_symbol["AAPL"].error
    assert by_symbol["MSFT"].changed == [] and by_symbol["NVDA"].changed == []
