"""custom_code: the user's Python, run in the sandbox with the symbol's context as `inputs`."""

from agents.sandbox import SandboxBusy, SandboxUnavailable, run_code
from execution.steps.base import PermanentStepError, StepError, SymbolContext


def custom_code(config: dict, ctx: SymbolContext) -> dict:
    code = config.get("code")
    if not isinstance(code, str) or not code.strip():
        raise PermanentStepError("custom_code: code is required")
    try:
        outcome = run_code(code, inputs=ctx.values(), timeout=config.get("timeout"))
    except SandboxBusy as exc:
        raise StepError(f"custom_code did not run: {exc}") from exc  # transient: retried (execution.retries)
    except SandboxUnavailable as exc:
        raise PermanentStepError(f"custom_code did not run: {exc}") from exc
    output = {
        "result": outcome.result,
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "duration_ms": outcome.duration_ms,
        "timed_out": outcome.timed_out,
    }
    if outcome.traceback:
        output["traceback"] = outcome.traceback  # the user's own frames: which line of their code failed
    if not outcome.ok:
        raise StepError(f"custom_code failed: {outcome.error}", output=output, detail=outcome.detail)
    return output
