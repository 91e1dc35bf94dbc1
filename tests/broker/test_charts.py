"""A chart is a full-size PNG with every panel drawn, stored with its hash; storage failures keep it locally."""

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import FileSystemStorage
from PIL import Image

from broker import charts
from broker.instruments import qualify_symbol
from broker.marketdata import bars_to_frame
from broker.simulation import generate_bars


@pytest.mark.django_db
def test_it_renders_a_1920_by_1080_chart_with_every_panel_drawn(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    instrument = qualify_symbol("AAPL")
    bars = bars_to_frame(generate_bars("AAPL", "2y", "1d", seed=42, end=datetime(2026, 11, 25, tzinfo=UTC)))[-500:]
    assert len(bars) == 500

    chart = charts.render_chart(instrument, "2y", "1d", bars)

    assert chart.pk and chart.width == 1920 and chart.height == 1080
    assert chart.image.name.startswith("charts/AAPL_2y-1d_") and chart.image.name.endswith(".png")
    content = Path(chart.image.path).read_bytes()
    assert chart.sha256 == hashlib.sha256(content).hexdigest()
    image = np.asarray(Image.open(io.BytesIO(content)).convert("L"), dtype=float)
    assert image.shape == (1080, 1920)
    # Price, volume, MACD and RSI panels stack from top to bottom; each band must hold drawing.
    bands = {"price": (0.10, 0.45), "volume": (0.49, 0.56), "macd": (0.60, 0.68), "rsi": (0.72, 0.83)}
    for name, (top, bottom) in bands.items():
        region = image[int(top * 1080) : int(bottom * 1080), 100:1750]
        assert region.std() > 5, f"{name} panel looks blank"


def test_a_failing_storage_is_retried_three_times_then_the_png_stays_on_disk(settings, tmp_path, monkeypatch, caplog):
    settings.MEDIA_ROOT = tmp_path

    class BrokenStorage(FileSystemStorage):
        attempts = 0

        def _save(self, name, content):
            BrokenStorage.attempts += 1
            raise OSError("bucket unreachable")

    monkeypatch.setattr(charts, "default_storage", BrokenStorage(location=tmp_path / "remote"))
    monkeypatch.setattr(charts, "UPLOAD_BACKOFF_SECONDS", 0.01)

    name = charts.store_png("charts/MSFT_1y-1d_20261125T000000.png", b"png-bytes")

    assert BrokenStorage.attempts == 3
    assert (tmp_path / name).read_bytes() == b"png-bytes"
    assert "kept on local disk" in caplog.text
