"""An agent team's configuration: validation of a strategy's `autogen_config` and the merged team settings.

A config (stored in strategy.params["autogen_config"], and the agent_team step's config) looks like

    {"agents": [{"name": "RiskManager", "enabled": true, "provider": "", "model": "", "temperature": 0.2,
                 "max_iterations": 3, "system_prompt": "..."}, ...],
     "provider": "", "model": "", "max_rounds": 10, "human_approval": false, "code_execution": false}

Every key is optional. Settings are layered: agent template < step config < strategy config.
TechnicalAnalyst, RiskManager and Executor (the required templates) cannot be disabled.
Models are picked by provider and model name (agents.providers); a config never names a URL,
so a trader cannot send the installation's key, or any request, to a server of their choice.
`required` and `tools`, which the API shows, are read-only and ignored on write.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass

from agents.agent_templates import EXECUTOR, agent_templates
from agents.providers import model_choice_problem

DEFAULT_MAX_ROUNDS = 10
MAX_ROUNDS_LIMIT = 50
DEFAULT_TEMPERATURE = 0.2
DEFAULT_MAX_ITERATIONS = 3
MAX_ITERATIONS_LIMIT = 10
MAX_PROMPT_CHARS = 20_000
TEAM_KEYS = ("agents", "provider", "model", "max_rounds", "human_approval", "code_execution")
AGENT_KEYS = ("name", "enabled", "system_prompt", "provider", "model", "temperature", "max_iterations")
# Shown by the API (from the agent template), ignored when a config is written back.
READ_ONLY_AGENT_KEYS = ("required", "tools")
# Configs stored before providers existed named an endpoint; it is refused on write and ignored on run.
LEGACY_URL_KEY = "base_url"
NO_URL_MESSAGE = (
    "agents cannot be pointed at a URL; pick a provider by name instead (GET /api/model-providers/ lists them)"
)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_text(value, errors: list[str], limit: int) -> None:
    if not isinstance(value, str):
        errors.append("must be text")
    elif len(value) > limit:
        errors.append(f"must be at most {limit} characters, got {len(value)}")


def _check_whole(value, errors: list[str], low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"must be a whole number from {low} to {high}")
    elif not low <= value <= high:
        errors.append(f"must be from {low} to {high}, got {value}")


def _check_agent(agent, position: int, templates: dict, errors: defaultdict) -> str | None:
    if not isinstance(agent, dict):
        errors[f"agents[{position}]"].append(f"must be an object with a name, got {agent!r}")
        return None
    name = agent.get("name")
    if name not in templates:
        errors[f"agents[{position}].name"].append(f"unknown agent {name!r}; known: {', '.join(templates)}")
        return None
    prefix = f"agents.{name}"
    for key in sorted(set(agent) - set(AGENT_KEYS) - set(READ_ONLY_AGENT_KEYS)):
        if key == LEGACY_URL_KEY:
            errors[f"{prefix}.{key}"].append(NO_URL_MESSAGE)
        else:
            errors[f"{prefix}.{key}"].append(f"unknown setting; known: {', '.join(AGENT_KEYS)}")
    if "enabled" in agent:
        if not isinstance(agent["enabled"], bool):
            errors[f"{prefix}.enabled"].append("must be true or false")
        elif not agent["enabled"] and templates[name].required:
            errors[f"{prefix}.enabled"].append(f"{name} is required and cannot be disabled")
    if "temperature" in agent:
        temperature = agent["temperature"]
        if not _is_number(temperature) or not 0 <= temperature <= 2:
            errors[f"{prefix}.temperature"].append(f"must be a number from 0 to 2, got {temperature!r}")
    if "max_iterations" in agent:
        _check_whole(agent["max_iterations"], errors[f"{prefix}.max_iterations"], 1, MAX_ITERATIONS_LIMIT)
    if "system_prompt" in agent:
        _check_text(agent["system_prompt"], errors[f"{prefix}.system_prompt"], MAX_PROMPT_CHARS)
    for key in ("provider", "model"):
        if key in agent:
            _check_text(agent[key], errors[f"{prefix}.{key}"], 100)
    return name


def validate_autogen_config(config) -> dict[str, list[str]]:
    """Every problem of a team config, by field path ("max_rounds", "agents.RiskManager.temperature"); {} = valid."""
    if not isinstance(config, dict):
        return {"non_field_errors": [f"must be a JSON object, got {type(config).__name__}"]}
    errors: defaultdict[str, list[str]] = defaultdict(list)
    for key in sorted(set(config) - set(TEAM_KEYS)):
        unknown = f"unknown setting; known: {', '.join(TEAM_KEYS)}"
        errors[key].append(NO_URL_MESSAGE if key == LEGACY_URL_KEY else unknown)
    templates = agent_templates()
    agents = config.get("agents", [])
    if not isinstance(agents, list):
        errors["agents"].append("must be a list of agent settings")
        agents = []
    names = [_check_agent(agent, position, templates, errors) for position, agent in enumerate(agents)]
    duplicates = sorted({name for name in names if name and names.count(name) > 1})
    if duplicates:
        errors["agents"].append(f"each agent may appear once; repeated: {', '.join(duplicates)}")
    for key in ("provider", "model"):
        if key in config:
            _check_text(config[key], errors[key], 100)
    if "max_rounds" in config:
        _check_whole(config["max_rounds"], errors["max_rounds"], 1, MAX_ROUNDS_LIMIT)
    for flag in ("human_approval", "code_execution"):
        if flag in config and not isinstance(config[flag], bool):
            errors[flag].append("must be true or false")
    errors = {key: messages for key, messages in errors.items() if messages}
    if not errors:
        errors.update(_model_choice_errors(config))
    return errors


def _model_choice_errors(config: dict) -> dict[str, list[str]]:
    """Each agent's provider and model, as they combine with the team's, must be offered here."""
    team_provider, team_model = config.get("provider") or "", config.get("model") or ""
    errors = {}
    if team_provider or team_model:
        problem = model_choice_problem(team_provider, team_model)
        if problem:
            errors["provider" if team_provider else "model"] = [problem]
    for agent in config.get("agents", []):
        provider, model = agent.get("provider") or "", agent.get("model") or ""
        if not (provider or model):
            continue
        problem = model_choice_problem(provider or team_provider, model or team_model)
        if problem:
            errors[f"agents.{agent['name']}.{'provider' if provider else 'model'}"] = [problem]
    return errors


def writable_config(config: dict) -> dict:
    """A valid config without the read-only fields the API shows (`required`, `tools`), as it is stored."""
    agents = [
        {key: value for key, value in agent.items() if key not in READ_ONLY_AGENT_KEYS}
        for agent in config.get("agents", [])
    ]
    return {**config, "agents": agents} if "agents" in config else dict(config)


@dataclass(frozen=True)
class AgentSettings:
    name: str
    enabled: bool
    required: bool
    system_prompt: str
    provider: str
    model: str
    temperature: float
    max_iterations: int
    tools: list[str]


@dataclass(frozen=True)
class TeamSettings:
    members: list[AgentSettings]  # every template, in template order
    provider: str = ""
    model: str = ""
    max_rounds: int = DEFAULT_MAX_ROUNDS
    human_approval: bool = False
    code_execution: bool = False

    @property
    def agents(self) -> list[AgentSettings]:
        """The agents taking part."""
        return [agent for agent in self.members if agent.enabled]


def _agents_by_name(config: dict) -> dict[str, dict]:
    return {agent["name"]: agent for agent in config.get("agents") or [] if isinstance(agent, dict)}


def team_settings(*layers: dict) -> TeamSettings:
    """The team from the templates overlaid with each config in turn (later layers win); validate first."""
    templates = agent_templates()
    team = {
        "provider": "", "model": "", "max_rounds": DEFAULT_MAX_ROUNDS, "human_approval": False, "code_execution": False
    }
    agents = {name: {"enabled": template.required} for name, template in templates.items()}
    for layer in layers:
        team.update({key: layer[key] for key in TEAM_KEYS if key in layer and key != "agents"})
        for name, overrides in _agents_by_name(layer).items():
            if name in agents:
                agents[name].update({key: value for key, value in overrides.items() if key != "name"})
    members = []
    for name, template in templates.items():
        agent = agents[name]
        code_tool = ["run_python"] if team["code_execution"] and name != EXECUTOR else []
        members.append(AgentSettings(
            name=name,
            enabled=bool(agent.get("enabled")) or template.required,
            required=template.required,
            system_prompt=agent.get("system_prompt") or template.default_prompt,
            provider=agent.get("provider") or team["provider"] or "",
            model=agent.get("model") or team["model"] or "",
            temperature=float(agent.get("temperature", DEFAULT_TEMPERATURE)),
            max_iterations=int(agent.get("max_iterations", DEFAULT_MAX_ITERATIONS)),
            tools=[*template.tools, *code_tool],
        ))
    return TeamSettings(
        members=members,
        provider=team["provider"] or "",
        model=team["model"] or "",
        max_rounds=int(team["max_rounds"]),
        human_approval=bool(team["human_approval"]),
        code_execution=bool(team["code_execution"]),
    )


def effective_autogen_config(config: dict) -> dict:
    """A strategy's config as the API shows it: every agent with its effective settings."""
    settings = team_settings(config)
    return {
        "agents": [asdict(agent) for agent in settings.members],
        "provider": settings.provider,
        "model": settings.model,
        "max_rounds": settings.max_rounds,
        "human_approval": settings.human_approval,
        "code_execution": settings.code_execution,
    }
