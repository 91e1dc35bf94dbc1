"""Chart images on S3 (a real S3 API: moto's server) and on the filesystem, served by the owner-checked view."""

import datetime
import hashlib

import pytest
from django.utils import timezone

from broker.models import Chart
from execution.maintenance import prune_executions
from execution.models import WorkflowExecution
from tests.s3 import drawn_chart


def downloaded(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_a_generated_chart_is_an_object_in_the_bucket_that_its_owner_downloads(s3_storage, client, alice):
    chart = drawn_chart(alice)

    assert s3_storage.keys() == {chart.image.name}
    stored = s3_storage.client().get_object(Bucket=s3_storage.name, Key=chart.image.name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == chart.sha256
    client.force_login(alice)
    response = client.get(chart.image_url())
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert downloaded(response) == stored


@pytest.mark.django_db
def test_the_chart_api_points_at_the_view_not_at_the_bucket(s3_storage, alice, alice_api):
    chart = drawn_chart(alice)

    data = alice_api.get(f"/api/charts/{chart.instrument.conid}/", {"period": "1y", "bar": "1d"}).json()

    assert data["id"] == chart.pk
    assert data["chart_url"].startswith(f"http://testserver{chart.image_url()}?grant=")
    assert s3_storage.endpoint not in data["chart_url"]


@pytest.mark.django_db
def test_another_trader_gets_a_404_staff_the_image_and_a_visitor_the_login_page(s3_storage, client, alice, bob, staff):
    chart = drawn_chart(alice)

    assert client.get(chart.image_url()).status_code == 302
    client.force_login(bob)
    assert client.get(chart.image_url()).status_code == 404
    assert client.get("/charts/images/999999.png").status_code == 404
    client.force_login(staff)
    response = client.get(chart.image_url())
    assert response.status_code == 200 and hashlib.sha256(downloaded(response)).hexdigest() == chart.sha256


@pytest.mark.django_db
def test_the_retention_cleanup_deletes_old_charts_from_the_bucket(s3_storage, alice, settings):
    settings.EXECUTION_RETENTION_DAYS = 30
    old, kept_by_a_run, recent = drawn_chart(alice), drawn_chart(alice, "MSFT"), drawn_chart(alice, "NVDA")
    long_ago = timezone.now() - datetime.timedelta(days=31)
    Chart.objects.filter(pk__in=[old.pk, kept_by_a_run.pk]).update(created_at=long_ago)
    # The run that drew `old` is past the retention and finished, so it goes; the other one stays.
    old_run = WorkflowExecution.objects.get(step_runs__output__chart_id=old.pk)
    WorkflowExecution.objects.filter(pk=old_run.pk).update(created_at=long_ago, status="completed")

    summary = prune_executions()

    assert summary["deleted"]["chart"] == 1
    assert set(Chart.objects.values_list("pk", flat=True)) == {kept_by_a_run.pk, recent.pk}
    assert s3_storage.keys() == {kept_by_a_run.image.name, recent.image.name}


@pytest.mark.django_db
def test_filesystem_storage_serves_the_same_view(settings, tmp_path, client, alice, bob):
    settings.MEDIA_ROOT = tmp_path
    chart = drawn_chart(alice)

    assert (tmp_path / chart.image.name).is_file()
    client.force_login(alice)
    response = client.get(chart.image_url())
    assert response.status_code == 200
    assert downloaded(response) == (tmp_path / chart.image.name).read_bytes()
    client.force_login(bob)
    assert client.get(chart.image_url()).status_code == 404


@pytest.mark.django_db
def test_filesystem_storage_has_no_public_media_route(settings, tmp_path, client, alice):
    settings.MEDIA_ROOT = tmp_path
    chart = drawn_chart(alice)
    client.force_login(alice)

    assert client.get(f"/media/{chart.image.name}").status_code == 404
