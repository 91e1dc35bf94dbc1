import pytest

from agents.clients import Completion, estimate_tokens, messages_text
from tests.support.fake_openai import fake_openai_server

# Indicator summaries as broker.indicators.indicator_summary reports them: one clearly rising
# market, its mirror image, and a market going nowhere.
BULLISH = {
    "last_close": 110.0,
    "date_range": {"start": "2024-01-02", "end": "2024-12-31"},
    "sma": {"sma_20": 105.0, "sma_50": 100.0, "sma_200": 90.0},
    "ema": {"ema_20": 106.0},
    "macd": {"macd": 1.2, "signal": 0.8, "hist": 0.4},
    "rsi": 62.0,
    "bollinger": {"upper": 115.0, "middle": 105.0, "lower": 95.0},
    "atr": 2.0,
    "supertrend": {"direction": "up", "value": 104.0, "last_flip": "2024-10-01"},
    "crosses": [{"type": "golden_cross", "date": "2024-06-01"}],
    "trend": "up",
    "support": 100.0,
    "resistance": 111.0,
}
BEARISH = {
    "last_close": 90.0,
    "date_range": {"start": "2024-01-02", "end": "2024-12-31"},
    "sma": {"sma_20": 95.0, "sma_50": 100.0, "sma_200": 110.0},
    "ema": {"ema_20": 94.0},
    "macd": {"macd": -1.2, "signal": -0.8, "hist": -0.4},
    "rsi": 38.0,
    "bollinger": {"upper": 105.0, "middle": 95.0, "lower": 85.0},
    "atr": 2.0,
    "supertrend": {"direction": "down", "value": 96.0, "last_flip": "2024-10-01"},
    "crosses": [{"type": "death_cross", "date": "2024-06-01"}],
    "trend": "down",
    "support": 80.0,
    "resistance": 100.0,
}
FLAT = {
    "last_close": 100.0,
    "sma": {"sma_20": 100.5, "sma_50": 99.5, "sma_200": 100.2},
    "macd": {"macd": 0.05, "signal": 0.02, "hist": 0.03},
    "rsi": 50.0,
    "bollinger": {"upper": 104.0, "middle": 100.0, "lower": 96.0},
    "atr": 1.5,
    "supertrend": {"direction": "down", "value": 101.0},
    "trend": "sideways",
    "support": 97.0,
    "resistance": 103.0,
}


class ScriptedModel:
    """A ModelClient that answers from a script: strings are answers, exceptions are raised.

    It stands in for the default provider (settings), so its calls are priced at that provider's prices.
    """

    provider = "default"

    def __init__(self, answers, model="scripted-model", tokens=None):
        self.answers = list(answers)
        self.model = model
        self.tokens = tokens
        self.requests = []

    def complete(self, messages, *, temperature=0.2, max_tokens=2000, images=None, json_schema=None):
        self.requests.append({"messages": messages, "images": images, "json_schema": json_schema})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        tokens_in, tokens_out = self.tokens or (estimate_tokens(messages_text(messages)), estimate_tokens(answer))
        return Completion(
            text=answer, tokens_in=tokens_in, tokens_out=tokens_out, model=self.model, provider=self.provider
        )


@pytest.fixture
def fast_retries(settings):
    settings.LLM_RETRY_BASE_SECONDS = 0
    settings.TASK_MAX_RETRIES = 3
    return settings


@pytest.fixture
def offline(settings):
    settings.LLM_PROVIDER = "offline"
    return settings


@pytest.fixture
def llm_server(settings):
    """The default provider is an OpenAI-compatible server on loopback; retries wait next to nothing."""
    with fake_openai_server() as server:
        settings.LLM_PROVIDER = "openai"
        settings.LLM_BASE_URL = server.url
        settings.LLM_API_KEY = "sk-test-key"
        settings.LLM_MODEL = "gpt-4o"
        settings.LLM_TIMEOUT = 5.0
        settings.LLM_RETRY_BASE_SECONDS = 0
        settings.TASK_MAX_RETRIES = 3
        yield server
