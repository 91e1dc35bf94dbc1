"""A chart is drawn once per content: the same bars at the same size give the same Chart, however many ask at once.

Strategies charting the same symbol, timeframe and bars share one image; different bars, indicators,
size or drawing version draw a new one.
"""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connections

from broker import charts
from broker.instruments import qualify_symbol
from broker.marketdata import bars_to_frame
from broker.models import Chart
from broker.simulation import generate_bars

END = datetime(2026, 11, 25, tzinfo=UTC)


def _bars(symbol="AAPL", count=120):
    return bars_to_frame(generate_bars(symbol, "1y", "1d", seed=7, end=END))[-count:]


@pytest.fixture
def drawings(monkeypatch, settings, tmp_path):
    """Counts the images rendered."""
    settings.MEDIA_ROOT = tmp_path
    rendered = []
    render_png = charts.render_png

    def counted(*args):
        rendered.append(args[0])
        return render_png(*args)

    monkeypatch.setattr(charts, "render_png", counted)
    return rendered


@pytest.mark.django_db
def test_the_same_bars_at_the_same_size_are_drawn_once(drawings):
    instrument = qualify_symbol("AAPL")
    bars = _bars()

    first = charts.render_chart(instrument, "1y", "1d", bars, width=480, height=320)
    second = charts.render_chart(instrument, "1y", "1d", bars.copy(), width=480, height=320)

    assert second.pk == first.pk and len(drawings) == 1
    assert Chart.objects.count() == 1


@pytest.mark.django_db
def test_other_bars_indicators_size_or_drawing_version_draw_another_chart(drawings, monkeypatch):
    instrument = qualify_symbol("AAPL")
    bars = _bars()
    first = charts.render_chart(instrument, "1y", "1d", bars, width=480, height=320)

    others = [
        charts.render_chart(instrument, "1y", "1d", _bars(count=119), width=480, height=320),
        charts.render_chart(instrument, "1y", "1d", bars, indicators=["rsi"], width=480, height=320),
        charts.render_chart(instrument, "1y", "1d", bars, width=640, height=320),
    ]
    monkeypatch.setattr(charts, "DRAWING_VERSION", charts.DRAWING_VERSION + 1)
    others.append(charts.render_chart(instrument, "1y", "1d", bars, width=480, height=320))

    assert len({chart.pk for chart in [first, *others]}) == 5 and len(drawings) == 5


@pytest.mark.django_db(transaction=True)
def test_workers_asking_for_the_same_chart_at_once_draw_it_once(drawings):
    instrument = qualify_symbol("AAPL")
    bars = _bars()
    charts_got = [None] * 4
    start = threading.Barrier(len(charts_got))

    def ask(index):
        try:
            start.wait()
            charts_got[index] = charts.render_chart(instrument, "1y", "1d", bars, width=480, height=320).pk
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(len(charts_got))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(set(charts_got)) == 1 and None not in charts_got
    assert len(drawings) == 1
