"""At decision point t the steps see nothing completed after t: not in the bars, the charts, or the prompts."""

import re
from datetime import date, datetime, timedelta

import pytest

from agents.offline import OfflineAnalyst
from execution.backtests import engine
from execution.backtests.engine import BacktestRun, PointInTimeInputs
from tests.execution.backtests.conftest import new_backtest

pytestmark = pytest.mark.django_db
ISO_DATE = re.compile(r"\b(20\d\d-\d\d-\d\d)")


class DateReadingModel(OfflineAnalyst):
    """The offline analyst, noting the latest date written in every prompt it is given."""

    seen: list[tuple[datetime, date]] = []
    point: datetime | None = None

    def complete(self, messages, **options):
        dates = [date.fromisoformat(found) for message in messages for found in ISO_DATE.findall(message["content"])]
        assert dates, "the prompt names no date: this test would prove nothing"
        DateReadingModel.seen.append((DateReadingModel.point, max(dates)))
        return super().complete(messages, **options)


def test_bars_charts_and_prompts_at_t_end_before_t(alice, monkeypatch):
    charted: list[tuple[datetime, datetime]] = []
    fetched: list[tuple[datetime, datetime]] = []
    drawn_chart, bars = PointInTimeInputs.chart, PointInTimeInputs.bars

    def chart(self, ctx, request):
        charted.append((self.point, request.bars.index[-1].to_pydatetime()))
        return drawn_chart(self, ctx, request)

    def fetch(self, ctx, period, bar):
        frame = bars(self, ctx, period, bar)
        fetched.append((self.point, frame.index[-1].to_pydatetime()))
        DateReadingModel.point = self.point
        return frame

    monkeypatch.setattr(PointInTimeInputs, "chart", chart)
    monkeypatch.setattr(PointInTimeInputs, "bars", fetch)
    monkeypatch.setattr(engine, "get_model_client", lambda model, provider="": DateReadingModel())
    DateReadingModel.seen = []
    backtest = BacktestRun(new_backtest(alice, start=date(2024, 3, 4), end=date(2024, 3, 6))).run()
    assert backtest.status == "completed", backtest.error
    assert len(fetched) == len(charted) == 3 * 2 and len(DateReadingModel.seen) == 3 * 2 * 2
    for point, last_bar in fetched + charted:
        assert last_bar + timedelta(days=1) <= point, f"a bar of {last_bar} ends after the decision point {point}"
    for point, latest in DateReadingModel.seen:
        assert latest < point.date(), f"at {point} the model read {latest}"
    # The latest bar each point sees is the one that closed at it: the walk moves forward.
    assert sorted({last_bar for _, last_bar in fetched}) == [datetime.fromisoformat(f"2024-03-0{day}T00:00+00:00")
                                                             for day in (4, 5, 6)]  # fmt: skip
