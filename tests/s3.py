"""A real S3 API for the storage tests: moto's server mode on a free loopback port.

`s3_server` (session) is the HTTP server; `s3_storage` (per test) makes a fresh bucket and
switches the default storage to django-storages' S3 backend against it, the way compose points
the app at MinIO. `drawn_chart` stores a chart on whichever storage is the default, as a run
does. Enabled for every test folder through `pytest_plugins` in tests/conftest.py.
"""

import datetime
import socket
import uuid
from dataclasses import dataclass

import boto3
import pytest

from broker import charts
from broker.instruments import qualify_symbol
from broker.marketdata import bars_to_frame
from broker.models import Chart
from broker.simulation import generate_bars
from execution.models import StepRun
from tests.workers import waiting_execution

REGION = "us-east-1"
BARS_END = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)
CREDENTIALS = {"aws_access_key_id": "tests", "aws_secret_access_key": "tests-secret"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Bucket:
    name: str
    endpoint: str

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, **CREDENTIALS)

    def keys(self) -> set[str]:
        listing = self.client().list_objects_v2(Bucket=self.name)
        return {item["Key"] for item in listing.get("Contents", [])}


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL of a moto S3 server for the whole run."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_storage(s3_server, settings) -> Bucket:
    """A new bucket, and the default storage (charts' FileField) switched to S3 on it."""
    bucket = Bucket(f"charts-{uuid.uuid4().hex[:12]}", s3_server)
    bucket.client().create_bucket(Bucket=bucket.name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket.name,
                "endpoint_url": s3_server,
                "region_name": REGION,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
            },
        },
    }
    return bucket


def drawn_chart(owner, symbol="AAPL") -> Chart:
    """A chart rendered (and stored) for a step of one of the owner's executions, as a run draws it."""
    bars = bars_to_frame(generate_bars(symbol, "1y", "1d", seed=7, end=BARS_END))
    chart = charts.render_chart(qualify_symbol(symbol), "1y", "1d", bars, width=480, height=320)
    execution = waiting_execution(owner, 0, symbols=(symbol,))
    StepRun.objects.create(
        execution=execution, symbol=symbol, index=0, step_id="chart", step_type="generate_chart",
        status="completed", output={"label": "chart", "chart_id": chart.pk},
    )  # fmt: skip
    return chart
