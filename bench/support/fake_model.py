"""A slow OpenAI-compatible model for the benchmarks: the test suite's fake server, answering as the offline analyst.

The server is tests/support/fake_openai.py (one implementation for tests and benchmarks); this adds
what a benchmark needs from the answers: the offline analyst's analysis text, or its decision JSON
when the request asks for one (a `response_format`, or the decision prompt's marker), so that every
step of a built-in template succeeds as it would against a real model, only `latency` seconds later.
Needs Django set up (the offline analyst reads its settings).
"""

from contextlib import contextmanager

from agents.clients import ModelError, messages_text
from agents.offline import DECISION_MARKER, OfflineAnalyst
from tests.support.fake_openai import fake_openai_server


def analyst_answer(body: dict) -> str:
    """What the offline analyst answers to this chat-completions request body."""
    prompt = messages_text(body.get("messages") or [])
    decision = "response_format" in body or DECISION_MARKER in prompt
    try:
        return OfflineAnalyst().answer(prompt, decision=decision)
    except ModelError:  # a prompt without indicator summaries (a consolidation of earlier analyses)
        return "Neutral: the analyses above agree on no direction."


@contextmanager
def analyst_server(latency: float):
    """A fake model server on a free loopback port answering as the offline analyst after `latency` seconds."""
    with fake_openai_server(analyst_answer, latency=latency) as server:
        yield server
