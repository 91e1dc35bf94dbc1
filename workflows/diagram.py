"""A step diagram a UI can draw: steps in rows by dependency depth, the edges between them, and text."""

from workflows.steps import STEP_TYPES


def _dependencies(steps: list[dict]) -> dict[str, list[str]]:
    """Step id → ids of the earlier steps it needs (what it reads, or simply the step before)."""
    producers: dict[tuple[str, str], str] = {}
    needs: dict[str, list[str]] = {}
    last_of_type: dict[str, str] = {}
    previous = None
    for step in steps:
        step_type = STEP_TYPES[step["type"]]
        config = step.get("config", {})
        found = []
        for config_field in step_type.fields:
            if not config_field.references:
                continue
            value = config.get(config_field.name)
            for name in value if isinstance(value, list) else [value]:
                producer = producers.get((config_field.references, name))
                if producer and producer not in found:
                    found.append(producer)
        if step_type.name == "agent_team" and not config.get("inputs"):
            found.extend(producer for (namespace, _), producer in producers.items() if namespace == "chart")
        if step_type.name == "validate_risk" and "decision" in last_of_type:
            found.append(last_of_type["decision"])
        if step_type.name == "place_order" and "validate_risk" in last_of_type:
            found.append(last_of_type["validate_risk"])
        if not found and previous and step_type.name != "fetch_data":
            found.append(previous)
        needs[step["id"]] = found
        if step_type.produces:
            producers[(step_type.produces, step_type.output_label(config))] = step["id"]
        last_of_type["decision" if step_type.makes_decision else step_type.name] = step["id"]
        previous = step["id"]
    for step in steps:
        if step["type"] == "condition":
            for branch in ("then", "else"):
                for target in step["config"].get(branch) or []:
                    if target in needs and step["id"] not in needs[target]:
                        needs[target].append(step["id"])
    return needs


def step_diagram(steps: list[dict]) -> dict:
    """`{"rows": [[{id, type, name}]], "edges": [[from_id, to_id]], "text": str}` for a valid workflow."""
    needs = _dependencies(steps)
    depth: dict[str, int] = {}
    for step in steps:
        depth[step["id"]] = 1 + max((depth.get(need, 0) for need in needs[step["id"]]), default=-1)
    rows: list[list[dict]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for step in steps:
        rows[depth[step["id"]]].append(
            {"id": step["id"], "type": step["type"], "name": step.get("name") or STEP_TYPES[step["type"]].label}
        )
    edges = [[need, step_id] for step_id, step_needs in needs.items() for need in step_needs]
    text = "\n    ↓\n".join("   ".join(f"[{node['name']}]" for node in row) for row in rows)
    return {"rows": rows, "edges": edges, "text": text}
