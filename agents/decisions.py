"""Structured trading decisions from one model: the schema, the parser and the retrying `decide`."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from agents.calls import call_model
from agents.clients import ModelClient
from agents.models import LLMCall

DECISIONS = ("BUY", "SELL", "HOLD")

DECISION_SCHEMA = {
    "title": "trading_decision",
    "type": "object",
    "additionalProperties": False,
    "required": ["decision", "current_price", "target_price", "stop_loss", "confidence", "key_factors", "analysis"],
    "properties": {
        "decision": {"type": "string", "enum": list(DECISIONS)},
        "current_price": {"type": "number", "exclusiveMinimum": 0},
        "target_price": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "stop_loss": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "key_factors": {"type": "array", "items": {"type": "string"}},
        "analysis": {"type": "string"},
    },
}

FENCED = re.compile(r"```[A-Za-z]*\s*(.*?)```", re.S)
QUOTED_ANSWER_CHARS = 2000


class InvalidDecision(ValueError):
    """The model's answer is not a usable decision. `errors` lists every problem found."""

    def __init__(self, message: str, errors: list[str] | None = None, calls: list[LLMCall] | None = None):
        super().__init__(message)
        self.errors = errors or [message]
        self.calls = calls or []


def extract_json(text: str):
    body = text.strip()
    fenced = FENCED.search(body)
    if fenced:
        body = fenced.group(1).strip()
    elif not body.startswith("{") and "{" in body:
        # Models sometimes wrap the object in a sentence; take the outermost braces.
        body = body[body.index("{") : body.rindex("}") + 1]
    if not body:
        raise InvalidDecision("the answer is empty; expected one JSON object")
    try:
        return json.loads(body, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InvalidDecision(
            f"the answer is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


def is_number(value) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def read_price(data: dict, name: str, errors: list[str], required_for: str = "") -> Decimal | None:
    """A positive price field; `required_for` ("always" or a decision) makes a missing or null value an error."""
    value = data.get(name)
    if value is None:
        if required_for:
            state = "missing" if name not in data else "null"
            errors.append(
                f"{name} is {state}" + (f" (required for {required_for})" if required_for != "always" else "")
            )
        return None
    if not is_number(value):
        errors.append(f"{name} must be a number, not {value!r}")
        return None
    if value <= 0:
        errors.append(f"{name} must be positive, not {value}")
        return None
    return Decimal(value)


def parse_decision(text: str) -> dict:
    """The decision in `text` (JSON, optionally in ``` fences) as a dict with Decimal prices.

    Returns {decision: BUY|SELL|HOLD, current_price, target_price, stop_loss, confidence: Decimal,
    key_factors: list[str], analysis: str}; target/stop may be None for HOLD. Raises InvalidDecision
    listing every problem.
    """
    data = extract_json(text)
    if not isinstance(data, dict):
        raise InvalidDecision(f"the answer must be a JSON object, not a JSON {type(data).__name__}")
    errors: list[str] = []

    decision = data.get("decision")
    if decision is None:
        errors.append("decision is missing")
    elif not isinstance(decision, str) or decision.strip().upper() not in DECISIONS:
        errors.append(f"decision must be one of BUY, SELL, HOLD, not {decision!r}")
        decision = None
    else:
        decision = decision.strip().upper()

    levels_required_for = decision if decision in ("BUY", "SELL") else ""
    price = read_price(data, "current_price", errors, "always")
    target = read_price(data, "target_price", errors, levels_required_for)
    stop = read_price(data, "stop_loss", errors, levels_required_for)

    confidence = data.get("confidence")
    if confidence is None:
        errors.append("confidence is missing")
    elif not is_number(confidence):
        errors.append(f"confidence must be a number between 0 and 1, not {confidence!r}")
    elif not 0 <= confidence <= 1:
        errors.append(f"confidence must be between 0 and 1, not {confidence}")

    factors = data.get("key_factors")
    if factors is None:
        errors.append("key_factors is missing")
    elif not isinstance(factors, list) or not all(isinstance(factor, str) for factor in factors):
        errors.append("key_factors must be a list of strings")

    analysis = data.get("analysis")
    if analysis is None:
        errors.append("analysis is missing")
    elif not isinstance(analysis, str):
        errors.append("analysis must be a string")

    if decision == "BUY" and price and target and stop:
        if not stop < price:
            errors.append(f"for BUY stop_loss ({stop}) must be below current_price ({price})")
        if not target > price:
            errors.append(f"for BUY target_price ({target}) must be above current_price ({price})")
    if decision == "SELL" and price and target and stop:
        if not stop > price:
            errors.append(f"for SELL stop_loss ({stop}) must be above current_price ({price})")
        if not target < price:
            errors.append(f"for SELL target_price ({target}) must be below current_price ({price})")

    if errors:
        raise InvalidDecision("invalid decision: " + "; ".join(errors), errors)
    return {
        "decision": decision,
        "current_price": price,
        "target_price": target,
        "stop_loss": stop,
        "confidence": Decimal(confidence),
        "key_factors": [factor.strip() for factor in factors if factor.strip()],
        "analysis": analysis.strip(),
    }


def jsonable_decision(decision: dict) -> dict:
    """A parsed decision with Decimals as strings, for JSON fields such as StepRun.output."""
    return {key: str(value) if isinstance(value, Decimal) else value for key, value in decision.items()}


def clarified_prompt(prompt: str, answer: str, error: InvalidDecision) -> str:
    quoted = answer if len(answer) <= QUOTED_ANSWER_CHARS else answer[:QUOTED_ANSWER_CHARS] + " [...]"
    return (
        f"{prompt}\n\n"
        f"Your previous answer could not be used: {error}\n"
        f"Previous answer:\n<<<\n{quoted}\n>>>\n"
        "Answer again with exactly one JSON object that matches the schema, fixing these problems, and nothing else."
    )


def decide(
    *,
    prompt: str,
    model: str | None = None,
    provider: str = "",
    execution_id: int | None = None,
    step_id: str = "",
    symbol: str = "",
    attempts: int = 3,
    system: str | None = None,
    images: list[bytes] | None = None,
    temperature: float = 0.2,
    max_tokens: int = 2000,
    agent_name: str = "",
    client: ModelClient | None = None,
) -> tuple[dict, list[LLMCall]]:
    """Ask for a decision until it parses (at most `attempts` answers); returns it and every LLMCall made.

    Invalid answers are retried with the original prompt plus the error and the quoted answer.
    Raises InvalidDecision (with `.calls`) after the last attempt; ModelError from call_model passes through.
    """
    calls: list[LLMCall] = []
    current_prompt = prompt
    error: InvalidDecision | None = None
    for _ in range(max(1, attempts)):
        call = call_model(
            prompt=current_prompt,
            model=model,
            provider=provider,
            system=system,
            images=images,
            temperature=temperature,
            max_tokens=max_tokens,
            json_schema=DECISION_SCHEMA,
            execution_id=execution_id,
            step_id=step_id,
            symbol=symbol,
            agent_name=agent_name,
            client=client,
        )
        calls.append(call)
        try:
            return parse_decision(call.response), calls
        except InvalidDecision as exc:
            error = exc
            current_prompt = clarified_prompt(prompt, call.response, exc)
    raise InvalidDecision(
        f"{symbol or 'decision'} step {step_id or '?'}: no valid decision after {len(calls)} answers; last: {error}",
        error.errors,
        calls,
    )
