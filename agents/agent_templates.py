"""The five agent templates a team is built from, as installed in the database (staff edit them in the admin).

A template gives an agent its default system prompt, recommended model and tools. The data
migration installs these rows; `agent_templates()` puts back any that is missing (a flushed
database), so a team can always be built.
"""

from agents.models import AgentTemplate
from agents.stances import FINAL_DECISION_MARKER, PROTOCOL_INSTRUCTION

REQUIRED_AGENTS = ("TechnicalAnalyst", "RiskManager", "Executor")
OPTIONAL_AGENTS = ("Fundamental", "Sentiment")
EXECUTOR = "Executor"

DEFAULT_AGENT_TEMPLATES = [
    {
        "name": "TechnicalAnalyst",
        "order": 1,
        "required": True,
        "recommended_model": "gpt-4o",
        "tools": ["market_data"],
        "description": "Reads the charts (as images when the model supports vision) and the indicator summaries: "
        "trend, momentum, volatility, support and resistance.",
        "default_prompt": "You are the TechnicalAnalyst of a trading team. Read the attached charts and the "
        "indicator summaries (one JSON block per timeframe). Give a concise technical analysis: trend (moving "
        "averages, SuperTrend, crosses), momentum (MACD, RSI), volatility (ATR, Bollinger bands), support and "
        "resistance, and whether the timeframes agree. Propose entry, target and stop levels when you see a "
        "trade. " + PROTOCOL_INSTRUCTION,
    },
    {
        "name": "RiskManager",
        "order": 2,
        "required": True,
        "recommended_model": "gpt-4o-mini",
        "tools": ["risk_calculator", "position_sizer", "market_data"],
        "description": "Checks the proposed trade with the risk calculator (R coefficient, position size, amount "
        "at risk, profit potential) and the position sizer; vetoes trades that break the risk rules.",
        "default_prompt": "You are the RiskManager of a trading team. For any trade proposed, call the "
        "risk_calculator tool with the side, entry, target and stop, and report the R coefficient, position "
        "size, amount at risk and profit potential. Reject trades with poor reward to risk or inconsistent "
        "levels; use position_sizer and market_data when useful. Never invent numbers the tools did not give. "
        + PROTOCOL_INSTRUCTION,
    },
    {
        "name": "Fundamental",
        "order": 3,
        "required": False,
        "recommended_model": "gpt-4o-mini",
        "tools": ["fundamentals"],
        "description": "Optional. Brings fundamental data (valuation, earnings, growth) from the configured data "
        "provider; says so honestly when there is none.",
        "default_prompt": "You are the Fundamental analyst of a trading team. Call the fundamentals tool and "
        "summarise what it returns (valuation, earnings, growth) and how it bears on the trade. If it returns no "
        "data, say so and take no side; never assume figures. " + PROTOCOL_INSTRUCTION,
    },
    {
        "name": "Sentiment",
        "order": 4,
        "required": False,
        "recommended_model": "gpt-4o-mini",
        "tools": ["news_sentiment"],
        "description": "Optional. Brings recent news and their sentiment from the configured provider; says so "
        "honestly when there is none.",
        "default_prompt": "You are the Sentiment analyst of a trading team. Call the news_sentiment tool and "
        "summarise the recent news and their tone for the symbol. If it returns no data, say so and take no side; "
        "never make news up. " + PROTOCOL_INSTRUCTION,
    },
    {
        "name": "Executor",
        "order": 5,
        "required": True,
        "recommended_model": "gpt-4o",
        "tools": [],
        "description": "Consolidates and weighs the team's views and ends the debate with the final decision: "
        "BUY, SELL or HOLD with confidence, target, stop and key factors, as JSON.",
        "default_prompt": "You are the Executor of a trading team. Weigh the analysts' views and the "
        "RiskManager's checks; never overrule a RiskManager veto. If points are still open, say which and let "
        "the team continue. When the team has enough to decide, answer with the line `"
        + FINAL_DECISION_MARKER
        + "` followed by exactly one JSON object with the keys decision (BUY, SELL or HOLD), current_price, "
        "target_price, stop_loss (null allowed for HOLD), confidence (0 to 1), key_factors (list of strings) and "
        "analysis (text). BUY needs stop_loss < current_price < target_price; SELL the reverse.",
    },
]


def agent_templates() -> dict[str, AgentTemplate]:
    """The templates by name, in their order; a missing default template is installed first."""
    templates = {template.name: template for template in AgentTemplate.objects.all()}
    for default in DEFAULT_AGENT_TEMPLATES:
        if default["name"] not in templates:
            template, _ = AgentTemplate.objects.get_or_create(name=default["name"], defaults=default)
            templates[template.name] = template
    return dict(sorted(templates.items(), key=lambda item: (item[1].order, item[0])))
