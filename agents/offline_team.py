"""The offline analyst playing each role of an agent team, deterministically, tool calls included.

It reads the conversation as AutoGen hands it to a model (system, user, assistant and
function-result messages) and answers as the role it was built for:

- TechnicalAnalyst: the offline analysis of the indicator summaries in the task, with its stance.
- Fundamental / Sentiment: calls its data tool (`fundamentals` / `news_sentiment`) when it has it,
  then reports what came back; with no data it says so and takes no side.
- RiskManager: calls `risk_calculator` with the levels the indicators suggest (or, when they
  suggest no trade, `position_sizer` for a 2-ATR stop) as a real function call, then reads the
  tool's answer: R, position size, amount at risk and profit potential, acceptable or not.
- Executor: weighs the team's stances and ends the debate with `FINAL DECISION` and the decision
  JSON; a trade the RiskManager found unacceptable becomes a HOLD.

A turn that already called its tool (the conversation ends with the tool's result) answers in
text, so every turn needs one or two calls. Same conversation, same answer.
"""

import json
from collections.abc import Sequence
from decimal import Decimal

from autogen_core import FunctionCall
from autogen_core.models import (
    CreateResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelInfo,
    RequestUsage,
    UserMessage,
)
from django.conf import settings

from agents.clients import estimate_tokens
from agents.offline import STOP_ATR, MarketReading, fmt, read_market, text_in, write_analysis, write_decision
from agents.stances import FINAL_DECISION_MARKER, read_stance, stance_lines

OFFLINE_MODEL_INFO: ModelInfo = {
    # Images are accepted (and ignored): the offline analyst reads the indicator numbers.
    "vision": True,
    "function_calling": True,
    "json_output": True,
    "structured_output": False,
    "family": "offline-analyst",
}
DATA_TOOLS = {"Fundamental": ("fundamentals", "fundamental"), "Sentiment": ("news_sentiment", "news")}

PHRASES = {
    "no_data": (
        "No {what} data is available for {symbol}: {message} I take no side.",
        "{symbol} 沒有可用的{what}資料：{message} 不表態。",
    ),
    "data": (
        "{what} data for {symbol} received ({fields}); the offline analyst does not weigh it, so I take no side.",
        "已取得 {symbol} 的{what}資料（{fields}）；離線分析師不評估此類資料，不表態。",
    ),
    "risk_ok": (
        "Risk check of a {side} of {symbol} at {price}: R = {r}, {quantity} shares, risking {risk} for a profit "
        "potential of {profit}. Acceptable.",
        "{symbol} 於 {price} {side} 的風險檢查：R = {r}，{quantity} 股，風險金額 {risk}，潛在獲利 {profit}。可接受。",
    ),
    "risk_rejected": (
        "Risk check of a {side} of {symbol} at {price}: not acceptable ({reasons}).",
        "{symbol} 於 {price} {side} 的風險檢查：不可接受（{reasons}）。",
    ),
    "risk_error": (
        "The risk calculator refused the levels: {error}.",
        "風險計算器拒絕了這些價位：{error}。",
    ),
    "sizing": (
        "The indicators suggest no trade for {symbol}. For reference, a long at {price} with a 2-ATR stop at {stop} "
        "would be {quantity} shares risking {risk}.",
        "指標不支持交易 {symbol}。僅供參考：於 {price} 做多、2 倍 ATR 停損 {stop}，為 {quantity} 股，風險金額 {risk}。",
    ),
    "risk_veto": (
        "The RiskManager found the {side} unacceptable, so the team holds.",
        "風險經理認為此{side}不可接受，團隊維持觀望。",
    ),
    "team_view": ("{agent}: {side}", "{agent}：{side}"),
}


def phrase(language: str, key: str, **params) -> str:
    return text_in(language, PHRASES[key]).format(**params)


def message_text(message: LLMMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(message, FunctionExecutionResultMessage):
        return "\n".join(result.content for result in content)
    return "\n".join(part if isinstance(part, str) else json.dumps(vars(part)) for part in content
                     if isinstance(part, str | FunctionCall))


def tool_answer(message: FunctionExecutionResultMessage) -> dict:
    """The first tool result as a dict; a result that is not a JSON object (a tool's error) as {"error": text}."""
    text = message.content[0].content if message.content else ""
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        return {"error": text}
    return answer if isinstance(answer, dict) else {"error": text}


def tool_names(tools: Sequence) -> set[str]:
    return {tool["name"] if isinstance(tool, dict) else tool.name for tool in tools}


class OfflineTeamMember:
    """The offline analyst as one agent of a team (see the module docstring)."""

    provider = "offline"
    model_info = OFFLINE_MODEL_INFO

    def __init__(self, role: str):
        self.role = role
        self.model = settings.OFFLINE_MODEL_NAME
        self.calls = 0

    def respond(self, messages: Sequence[LLMMessage], tools: Sequence) -> CreateResult:
        transcript = "\n\n".join(message_text(message) for message in messages)
        # The task and the other agents' words; a system prompt may mention the block markers themselves.
        market = read_market("\n\n".join(message_text(m) for m in messages if isinstance(m, UserMessage)))
        available = tool_names(tools)
        last = messages[-1] if messages else None
        tool_result = tool_answer(last) if isinstance(last, FunctionExecutionResultMessage) else None
        call = None if tool_result is not None else self.tool_call(market, available)
        if call is not None:
            self.calls += 1
            content = [FunctionCall(id=f"{self.role}-{self.calls}", name=call[0], arguments=json.dumps(call[1]))]
            text = json.dumps({"name": call[0], "arguments": call[1]})
            finish = "function_calls"
        else:
            text = self.answer(market, messages, tool_result)
            content, finish = text, "stop"
        usage = RequestUsage(prompt_tokens=estimate_tokens(transcript), completion_tokens=estimate_tokens(text))
        return CreateResult(finish_reason=finish, content=content, usage=usage, cached=False)

    def tool_call(self, market: MarketReading, available: set[str]) -> tuple[str, dict] | None:
        view = market.view
        if self.role in DATA_TOOLS and DATA_TOOLS[self.role][0] in available:
            return DATA_TOOLS[self.role][0], {}
        if self.role != "RiskManager":
            return None
        if view.decision != "HOLD" and "risk_calculator" in available:
            return "risk_calculator", {
                "side": view.decision.lower(),
                "entry_price": float(view.price),
                "target_price": float(view.target),
                "stop_loss": float(view.stop),
            }
        if "position_sizer" in available:
            return "position_sizer", {"entry_price": float(view.price), "stop_loss": float(self.reference_stop(market))}
        return None

    @staticmethod
    def reference_stop(market: MarketReading) -> Decimal:
        primary = market.timeframes[0]
        return Decimal(fmt(market.view.price - STOP_ATR * primary.atr))

    def answer(self, market: MarketReading, messages: Sequence[LLMMessage], tool_result: dict | None) -> str:
        view, language = market.view, market.language
        if self.role == "Executor":
            return self.final_decision(market, messages)
        if self.role in DATA_TOOLS:
            what = DATA_TOOLS[self.role][1]
            if tool_result is None or not tool_result.get("available"):
                message = (tool_result or {}).get("message", "no data tool was given.")
                text = phrase(language, "no_data", what=what, symbol=market.symbol, message=message)
            else:
                fields = ", ".join(sorted(set(tool_result) - {"symbol", "available"})) or "-"
                text = phrase(language, "data", what=what.capitalize(), symbol=market.symbol, fields=fields)
            return f"{text}\n\n{stance_lines('', None)}"
        if self.role == "RiskManager" and tool_result is not None:
            return self.risk_answer(market, tool_result)
        analysis = write_analysis(market.symbol, market.timeframes, view, language)
        return f"{analysis}\n\n{stance_lines(view.decision, view.confidence)}"

    def risk_answer(self, market: MarketReading, result: dict) -> str:
        view, language = market.view, market.language
        if "error" in result:
            return f"{phrase(language, 'risk_error', error=result['error'])}\n\n{stance_lines('HOLD', None)}"
        if "quantity" in result:
            text = phrase(language, "sizing", symbol=market.symbol, price=fmt(view.price),
                          stop=fmt(self.reference_stop(market)), quantity=result["quantity"],
                          risk=result["risk_amount"])
            return f"{text}\n\n{stance_lines('HOLD', view.confidence)}"
        params = {"side": view.decision, "symbol": market.symbol, "price": fmt(view.price)}
        if result.get("acceptable"):
            text = phrase(language, "risk_ok", r=result["r_coefficient"], quantity=result["position_size"],
                          risk=result["risk_amount"], profit=result["profit_potential"], **params)
            return f"{text}\n\n{stance_lines(view.decision, view.confidence)}"
        text = phrase(language, "risk_rejected", reasons="; ".join(result.get("reasons") or []), **params)
        return f"{text}\n\n{stance_lines('HOLD', view.confidence)}"

    def final_decision(self, market: MarketReading, messages: Sequence[LLMMessage]) -> str:
        stances = {}
        for message in messages:
            if isinstance(message, UserMessage) and message.source not in ("user", self.role):
                stances[message.source] = read_stance(message_text(message)).side
        view, language = market.view, market.language
        decision = json.loads(write_decision(market.timeframes, view, language))
        if view.decision != "HOLD" and stances.get("RiskManager") == "HOLD":
            veto = phrase(language, "risk_veto", side=view.decision)
            analysis = f"{veto} {decision['analysis']}"
            decision.update(decision="HOLD", target_price=None, stop_loss=None, analysis=analysis)
            decision["key_factors"] = [veto, *decision["key_factors"]]
        views = [phrase(language, "team_view", agent=agent, side=side or "NONE") for agent, side in stances.items()]
        reason, *signals = decision["key_factors"]
        decision["key_factors"] = [reason, *views, *signals][:10]
        return f"{FINAL_DECISION_MARKER}\n{json.dumps(decision, ensure_ascii=False, indent=2)}"
