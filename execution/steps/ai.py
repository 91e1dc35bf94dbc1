"""The model steps: ai_analyze (one chart), consolidate (several analyses), decide (a Decision row).

Each keeps in its output what a replay needs: the rendered prompt, the model, the raw answer
and the ids of the LLMCall rows (which hold tokens, latency and cost).
"""

from agents.calls import call_model, cost_text, sum_costs
from agents.clients import ModelError
from agents.decisions import InvalidDecision, jsonable_decision
from agents.decisions import decide as decide_with_model
from agents.prompts import PromptError, analysis_prompt, consolidate_prompt, decision_prompt
from broker.marketdata import MarketReference, ReferenceUnavailable
from execution.models import Decision
from execution.steps.base import PermanentStepError, StepError, SymbolContext
from workflows.steps import STEP_TYPES


def _language(ctx: SymbolContext) -> str:
    return ctx.params.get("analysis_language") or "en"


def _call_output(call) -> dict:
    return {
        "model": call.model,
        "provider": call.provider,
        "response": call.response,
        "llm_call_id": call.pk,
        "tokens_in": call.tokens_in,
        "tokens_out": call.tokens_out,
        "cost": cost_text(call.cost),
        "latency_ms": call.latency_ms,
    }


def _ask(config: dict, ctx: SymbolContext, prompt: str, images: list[bytes] | None = None):
    model = config.get("model") or None
    try:
        return call_model(
            prompt=prompt,
            model=model,
            provider=config.get("provider") or "",
            client=ctx.inputs.model_client(ctx, model),
            images=images,
            temperature=float(config.get("temperature", 0.2)),
            max_tokens=int(config.get("max_tokens", 2000)),
            execution_id=ctx.execution.pk,
            step_id=ctx.step_id,
            symbol=ctx.symbol,
        )
    except ModelError as exc:
        raise StepError(f"the model failed: {exc}") from exc


def ai_analyze(config: dict, ctx: SymbolContext) -> dict:
    label = STEP_TYPES["ai_analyze"].output_label(config)
    chart_label = config["input"]
    with ctx.lock:
        chart = ctx.charts.get(chart_label)
        source = ctx.chart_sources.get(chart_label)
    if chart is None:
        raise StepError(f"no chart under the label {chart_label!r}")
    fetch = ctx.fetch(source)
    with chart.image.open("rb") as image:
        png = image.read()
    try:
        prompt = analysis_prompt(
            symbol=ctx.symbol,
            timeframe=source,
            summary=fetch["summary"],
            analysis_language=_language(ctx),
            template=config.get("prompt_template") or None,
            extra=ctx.prompt_context(),
        )
    except PromptError as exc:
        raise PermanentStepError(f"prompt template: {exc}") from exc
    call = _ask(config, ctx, prompt, images=[png])
    with ctx.lock:
        ctx.analyses[label] = call.response
    return {
        "label": label,
        "input": chart_label,
        "chart_id": chart.pk,
        "chart_sha256": chart.sha256,
        "prompt": prompt,
        **_call_output(call),
    }


def consolidate(config: dict, ctx: SymbolContext) -> dict:
    label = STEP_TYPES["consolidate"].output_label(config)
    with ctx.lock:
        analyses = {name: ctx.analyses[name] for name in config.get("inputs") or [] if name in ctx.analyses}
    if not analyses:
        raise StepError(f"none of the analyses {', '.join(config.get('inputs') or [])} is available")
    try:
        prompt = consolidate_prompt(
            symbol=ctx.symbol,
            analyses=analyses,
            summaries=ctx.summaries(),
            analysis_language=_language(ctx),
            template=config.get("prompt_template") or None,
            extra=ctx.prompt_context(),
        )
    except PromptError as exc:
        raise PermanentStepError(f"prompt template: {exc}") from exc
    call = _ask(config, ctx, prompt)
    with ctx.lock:
        ctx.analyses[label] = call.response
    return {"label": label, "inputs": list(analyses), "prompt": prompt, **_call_output(call)}


def reference_now(ctx: SymbolContext) -> MarketReference:
    """The market reference a decision is made at: it goes into the prompt and onto the Decision."""
    try:
        return ctx.inputs.reference(ctx)
    except ReferenceUnavailable as exc:
        raise StepError(str(exc)) from exc


def reused_decision(ctx: SymbolContext, instrument) -> dict | None:
    """The output for a decision this step already made (a redelivered task), put back in the context.

    Asking again would make a new decision and, through a new idempotency key, a second order.
    """
    earlier = Decision.objects.filter(execution=ctx.execution, instrument=instrument, step_id=ctx.step_id).first()
    if earlier is None:
        return None
    with ctx.lock:
        ctx.decision = earlier
    return {"decision_id": earlier.pk, "type": earlier.type, "reused": True}


def record_decision(ctx: SymbolContext, instrument, parsed: dict, reference: MarketReference) -> Decision:
    """The Decision row for a parsed decision (agents.decisions.parse_decision's shape) at the market
    `reference`, put in the context."""
    decision = Decision(
        owner_id=ctx.execution.owner_id,
        execution=ctx.execution,
        strategy=ctx.execution.strategy,
        instrument=instrument,
        step_id=ctx.step_id,
        type=parsed["decision"].lower(),
        current_price=parsed["current_price"],
        target_price=parsed["target_price"],
        stop_loss=parsed["stop_loss"],
        confidence=parsed["confidence"],
        analysis_text=parsed["analysis"],
        key_factors=parsed["key_factors"],
    )
    decision.set_market_reference(reference)
    decision.save()
    with ctx.lock:
        ctx.decision = decision
    return decision


def decide(config: dict, ctx: SymbolContext) -> dict:
    step_id = ctx.step_id
    instrument = ctx.get_instrument()
    reused = reused_decision(ctx, instrument)
    if reused is not None:
        return reused
    input_label = config["input"]
    with ctx.lock:
        analysis = ctx.analyses.get(input_label)
    if analysis is None:
        raise StepError(f"no analysis under the label {input_label!r}")
    reference = reference_now(ctx)
    try:
        prompt = decision_prompt(
            symbol=ctx.symbol,
            analysis=analysis,
            current_price=reference.price,
            summaries=ctx.summaries(),
            analysis_language=_language(ctx),
            template=config.get("prompt_template") or None,
            extra=ctx.prompt_context(),
        )
    except PromptError as exc:
        raise PermanentStepError(f"prompt template: {exc}") from exc
    model = config.get("model") or None
    try:
        parsed, calls = decide_with_model(
            prompt=prompt,
            model=model,
            provider=config.get("provider") or "",
            client=ctx.inputs.model_client(ctx, model),
            execution_id=ctx.execution.pk,
            step_id=step_id,
            symbol=ctx.symbol,
            attempts=int(config.get("max_attempts", 3)),
            temperature=float(config.get("temperature", 0.1)),
            max_tokens=int(config.get("max_tokens", 1500)),
        )
    except InvalidDecision as exc:
        responses = [call.response for call in exc.calls]
        raise StepError(str(exc), output={"prompt": prompt, "responses": responses}) from exc
    except ModelError as exc:
        raise StepError(f"the model failed: {exc}") from exc
    decision = record_decision(ctx, instrument, parsed, reference)
    return {
        "decision_id": decision.pk,
        "type": decision.type,
        "decision": jsonable_decision(parsed),
        "reference": reference.as_dict(),
        "input": input_label,
        "prompt": prompt,
        "models": sorted({call.model for call in calls}),
        "responses": [call.response for call in calls],
        "llm_call_ids": [call.pk for call in calls],
        "attempts": len(calls),
        "tokens_in": sum(call.tokens_in for call in calls),
        "tokens_out": sum(call.tokens_out for call in calls),
        "cost": cost_text(sum_costs(call.cost for call in calls)),
    }
