"""Prompt templates written by traders, `{{` edge cases included: render_prompt substitutes known names
and raises PromptError, never anything else, for what it cannot render."""

from hypothesis import given
from hypothesis import strategies as st

from agents.prompts import PromptError, render_prompt
from tests.tradingweb.fuzz.conftest import FUZZ
from tests.tradingweb.fuzz.strategies import json_values

CONTEXT = {"symbol": "AAPL", "analysis": {"daily": "up", "list": [1, 2]}, "price": 1.5, "none": None}
pieces = st.sampled_from(
    ["{{", "}}", "{", "}", "{{symbol}}", "{{ symbol }}", "{{analysis.daily}}", "{{analysis.list.1}}",
     "{{analysis.list.9}}", "{{unknown}}", "{{a..b}}", "{{}}", "{{{symbol}}}", "{{symbol}", "{{sym bol}}",
     "{{price.x}}", "{{none}}", "text ", "\n", "{{0}}", "{{__class__}}", "{{symbol.__len__}}"]
) | st.text(max_size=8)


@FUZZ
@given(parts=st.lists(pieces, max_size=10))
def test_a_template_renders_or_raises_prompt_error(parts):
    template = "".join(parts)
    try:
        rendered = render_prompt(template, CONTEXT)
    except PromptError as refusal:
        assert str(refusal)
    else:
        assert isinstance(rendered, str)
        if "{{" not in template:
            assert rendered == template


@FUZZ
@given(template=st.text(max_size=40), context=st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_any_context_renders_or_raises_prompt_error(template, context):
    try:
        assert isinstance(render_prompt(template, context), str)
    except PromptError:
        pass
