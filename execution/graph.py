"""Which steps of a workflow wait for which: the dependency graph the engine runs in parallel.

Dependencies come from the step references declared in workflows.steps (a chart's `source`
names a fetch label, an analysis's `input` a chart label, …): a reference depends on the
latest earlier step producing that label. Steps that act on the decision wait for every
decision maker (validate_risk) or every risk check (place_order) before them. Steps whose
inputs cannot be known (wait, condition, custom_code, agent_team without inputs, unknown
types) are barriers: they wait for everything before them and everything after waits for
them. So the timeframes' fetch → chart → analyze chains run side by side, and the rest in order.
"""

from dataclasses import dataclass, field

from workflows.steps import STEP_TYPES

DATA_NAMESPACES = ("fetch", "chart", "analysis")


@dataclass
class StepNode:
    index: int
    step: dict
    depends_on: set[int] = field(default_factory=set)
    data_inputs: set[int] = field(default_factory=set)  # the producers of the labels it reads

    @property
    def step_id(self) -> str:
        return self.step["id"]


def _referenced_labels(step_type, config: dict) -> list[tuple[str, str]]:
    references = []
    for config_field in step_type.fields:
        if config_field.references not in DATA_NAMESPACES:
            continue
        value = config.get(config_field.name)
        labels = value if isinstance(value, list) else [value]
        references.extend((config_field.references, label) for label in labels if isinstance(label, str) and label)
    return references


def build_graph(steps: list[dict]) -> list[StepNode]:
    """One node per step (configs already resolved), in workflow order, with what each waits for."""
    nodes: list[StepNode] = []
    producers: dict[tuple[str, str], int] = {}
    decision_makers: list[int] = []
    risk_checks: list[int] = []
    last_barrier: int | None = None
    for index, step in enumerate(steps):
        node = StepNode(index=index, step=step)
        step_type = STEP_TYPES.get(step.get("type"))
        config = step.get("config") or {}
        references = _referenced_labels(step_type, config) if step_type else []
        resolved = [producers.get(reference) for reference in references]
        is_barrier = False
        if step_type is None or step_type.name in ("wait", "condition", "custom_code"):
            is_barrier = True
        elif step_type.name == "validate_risk":
            node.depends_on.update(decision_makers)
        elif step_type.name == "place_order":
            node.depends_on.update(risk_checks or decision_makers)
        elif references and all(producer is not None for producer in resolved):
            node.data_inputs.update(resolved)
            node.depends_on.update(resolved)
        elif step_type.name != "fetch_data":
            is_barrier = True  # inputs unknown or unresolved: run after everything before it
        if is_barrier:
            node.depends_on.update(range(index))
        elif last_barrier is not None:
            node.depends_on.add(last_barrier)
        nodes.append(node)
        if is_barrier:
            last_barrier = index
        if step_type and step_type.produces:
            label = step_type.output_label(config)
            if label:
                producers[(step_type.produces, label)] = index
        if step_type and step_type.makes_decision:
            decision_makers.append(index)
        if step_type and step_type.name == "validate_risk":
            risk_checks.append(index)
    return nodes
