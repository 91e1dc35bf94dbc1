"""How agents of a team state their position, so the debate can be read by code as well as by people.

Every agent ends its turn with a `Stance: BUY|SELL|HOLD` line (or `Stance: NONE` when it takes no
side) and may add `Confidence: 0.0-1.0`. The Executor ends the debate with a message starting
`FINAL DECISION` followed by one decision JSON object (agents.decisions.DECISION_SCHEMA).
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

FINAL_DECISION_MARKER = "FINAL DECISION"
# Who speaks for the team as a whole (the no-consensus HOLD), as opposed to one agent.
TEAM_SPEAKER = "team"
STANCES = ("BUY", "SELL", "HOLD")
STANCE_LINE = re.compile(r"^\s*\**Stance\**\s*:\s*\**\s*([A-Za-z]+)", re.M | re.I)
CONFIDENCE_LINE = re.compile(r"^\s*\**Confidence\**\s*:\s*\**\s*([0-9]*\.?[0-9]+)", re.M | re.I)

PROTOCOL_INSTRUCTION = (
    "End every turn with a line `Stance: BUY`, `Stance: SELL` or `Stance: HOLD` (`Stance: NONE` if you take no "
    "side) and a line `Confidence: <0 to 1>`."
)


@dataclass(frozen=True)
class Stance:
    side: str  # BUY | SELL | HOLD, or "" when the agent took no side
    confidence: Decimal | None


def read_stance(text: str) -> Stance:
    """The last stance and confidence lines of an agent's message."""
    sides = [side.upper() for side in STANCE_LINE.findall(text or "")]
    side = sides[-1] if sides and sides[-1].upper() in STANCES else ""
    confidences = CONFIDENCE_LINE.findall(text or "")
    confidence = None
    if confidences:
        try:
            value = Decimal(confidences[-1])
        except InvalidOperation:
            value = None
        if value is not None and 0 <= value <= 1:
            confidence = value
    return Stance(side, confidence)


def stance_lines(side: str, confidence: Decimal | None) -> str:
    lines = [f"Stance: {side or 'NONE'}"]
    if confidence is not None:
        lines.append(f"Confidence: {confidence}")
    return "\n".join(lines)


def is_final_decision(text: str) -> bool:
    return FINAL_DECISION_MARKER in (text or "")
