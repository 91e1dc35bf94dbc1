"""What the execution pages compute from the rows: the per-symbol timeline, progress, the conversation."""

from decimal import Decimal

from agents.models import AgentMessage, LLMCall
from execution.models import StepRun
from execution.page_data import execution_report, progress_figures, symbol_timelines


def test_the_timeline_lists_every_planned_step_per_symbol_with_unreached_ones_pending(alice_history):
    execution = alice_history.execution
    execution.symbols = ["AAPL", "MSFT"]
    execution.save()
    StepRun.objects.create(execution=execution, symbol="AAPL", index=0, step_id="fetch", step_type="fetch_data",
                           status=StepRun.Status.COMPLETED, duration_ms=120)
    StepRun.objects.create(execution=execution, symbol="AAPL", index=1, step_id="decide", step_type="decide",
                           status=StepRun.Status.FAILED, attempt=1, error="model timed out")
    StepRun.objects.create(execution=execution, symbol="AAPL", index=1, step_id="decide", step_type="decide",
                           status=StepRun.Status.RUNNING, attempt=2)

    timelines = {timeline.symbol: timeline for timeline in symbol_timelines(execution)}

    aapl = [(step.step_id, step.status, step.attempt) for step in timelines["AAPL"].steps]
    assert aapl == [("fetch", "completed", 1), ("decide", "running", 2)]  # the latest attempt wins
    assert timelines["AAPL"].status == "running"
    assert [step.status for step in timelines["MSFT"].steps] == ["pending", "pending"]
    assert timelines["MSFT"].status == "pending"


def test_a_symbol_with_a_failed_step_is_failed_and_one_with_all_steps_done_is_completed(alice_history):
    execution = alice_history.execution
    for step_id, step_type in (("fetch", "fetch_data"), ("decide", "decide")):
        StepRun.objects.create(execution=execution, symbol="AAPL", index=0, step_id=step_id, step_type=step_type,
                               status=StepRun.Status.COMPLETED)
    assert symbol_timelines(execution)[0].status == "completed"
    StepRun.objects.filter(step_id="decide").update(status=StepRun.Status.FAILED)
    assert symbol_timelines(execution)[0].status == "failed"


def test_progress_is_the_share_of_steps_done_and_full_once_completed(alice_history):
    execution = alice_history.execution
    execution.status = "running"
    execution.progress = {"current_step": 3, "total_steps": 8, "current_symbol": "AAPL", "completed_symbols": 1,
                          "current_step_id": "decide"}
    figures = progress_figures(execution)
    assert (figures["percent"], figures["current_symbol"], figures["current_step_id"]) == (38, "AAPL", "decide")
    execution.status = "completed"
    assert progress_figures(execution)["percent"] == 100


def test_the_report_marks_the_final_decision_and_prices_each_decision(alice_history):
    execution = alice_history.execution
    AgentMessage.objects.create(execution=execution, symbol="AAPL", agent_name="TechnicalAnalyst", content="Uptrend.",
                                tokens=120, cost=Decimal("0.0010"))
    AgentMessage.objects.create(execution=execution, symbol="AAPL", agent_name="Executor", content="FINAL {}",
                                message_type=AgentMessage.MessageType.DECISION, tokens=80, cost=Decimal("0.0005"))
    LLMCall.objects.create(execution=execution, symbol="AAPL", provider="offline", model="offline-analyst",
                           prompt="p", cost=Decimal("0.0200"))

    report = execution_report(execution)

    assert [(item["message"].agent_name, item["is_final"]) for item in report["messages"]] == [
        ("TechnicalAnalyst", False),
        ("Executor", True),
    ]
    assert report["decisions"][0].model_cost == Decimal("0.0200")
    assert report["total_cost"] == Decimal("0.0200")
