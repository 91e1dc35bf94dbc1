"""An execution's charts load in the browser with S3 storage (moto's S3 server) behind the app."""

import pytest

from execution.models import WorkflowExecution
from tests.s3 import drawn_chart

pytestmark = pytest.mark.e2e


def test_an_execution_s_chart_loads_from_s3_through_the_app(s3_storage, logged_in_page, trader, live_server):
    chart = drawn_chart(trader)
    execution = WorkflowExecution.objects.get(step_runs__output__chart_id=chart.pk)
    WorkflowExecution.objects.filter(pk=execution.pk).update(status="completed")
    assert s3_storage.keys() == {chart.image.name}
    page = logged_in_page

    page.goto(f"/executions/{execution.pk}/")
    page.click("[data-tab='results']")
    image = page.locator(f"[data-chart='{chart.pk}'] img")
    # The live page may redraw its results while the test looks, so the image is found afresh for
    # each step; decode() resolves once the PNG has loaded and decoded, and rejects if it cannot.
    page.wait_for_function(
        """selector => {
            const img = document.querySelector(selector);
            if (!img) return false;
            img.scrollIntoView();
            return img.complete && img.naturalWidth > 0;
        }""",
        arg=f"[data-chart='{chart.pk}'] img",
    )
    image.evaluate("img => img.decode()")

    assert image.evaluate("img => img.naturalWidth") == chart.width
    assert image.get_attribute("src") == chart.image_url()
    assert not page.problems.messages
