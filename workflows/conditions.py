"""Condition expressions for the condition step, parsed and evaluated without eval().

Grammar (keywords are case-insensitive):

    expression  := or_expr
    or_expr     := and_expr ("or" and_expr)*
    and_expr    := not_expr ("and" not_expr)*
    not_expr    := "not" not_expr | comparison
    comparison  := operand [operator operand]
    operator    := == | != | < | <= | > | >= | contains | "not contains" | matches | in
    operand     := number | "string" | 'string' | true | false | null | path | "(" expression ")"
    path        := name ("." name | "." index)*        e.g. decision.confidence, analysis.daily, charts.0

Paths read plain dicts and lists of the context only (no attributes, no names starting with
"_", no calls), so an expression can read values and nothing else. A path that is missing
evaluates to null, and any ordering comparison with null is false. Text compares ignoring case
(`decision.type == "buy"`); numbers compare as numbers, numeric text included. `contains` is a
case-insensitive substring test for text and membership for lists; `matches` is a regular-
expression search (case-sensitive unless the pattern says `(?i)`), given MATCH_TIMEOUT_SECONDS:
a pattern that backtracks without end on some text (`^(a|a)+$`) fails the condition with an error
instead of holding the worker.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import regex

MAX_EXPRESSION_LENGTH = 2000
MATCH_TIMEOUT_SECONDS = 0.5

TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<operator>==|!=|<=|>=|<|>|=~)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<dot>\.)
  | (?P<open>\()
  | (?P<close>\))
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "contains", "matches", "in", "true", "false", "null", "none"}
COMPARISON_WORDS = {"contains", "matches", "in"}
ESCAPES = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}


class ConditionError(ValueError):
    """An expression that cannot be parsed, or a value it cannot compare."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


def tokenize(expression: str) -> list[Token]:
    tokens = []
    position = 0
    while position < len(expression):
        match = TOKEN_PATTERN.match(expression, position)
        if match is None:
            raise ConditionError(f"unexpected character {expression[position]!r} at position {position + 1}")
        kind = match.lastgroup
        text = match.group()
        if kind != "space":
            if kind == "name" and text.lower() in KEYWORDS:
                kind = "keyword"
                text = text.lower()
            tokens.append(Token(kind, text, position + 1))
        position = match.end()
    return tokens


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda escape: ESCAPES.get(escape.group(1), escape.group(1)), body)


@dataclass(frozen=True)
class Literal:
    value: Any

    def evaluate(self, context: dict) -> Any:
        return self.value


@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]

    def evaluate(self, context: dict) -> Any:
        value: Any = context
        for part in self.parts:
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
        return value

    def __str__(self):
        return ".".join(self.parts)


@dataclass(frozen=True)
class Not:
    operand: Any

    def evaluate(self, context: dict) -> bool:
        return not truthy(self.operand.evaluate(context))


@dataclass(frozen=True)
class BooleanOperation:
    operator: str  # "and" | "or"
    operands: tuple

    def evaluate(self, context: dict) -> bool:
        if self.operator == "and":
            return all(truthy(operand.evaluate(context)) for operand in self.operands)
        return any(truthy(operand.evaluate(context)) for operand in self.operands)


@dataclass(frozen=True)
class Comparison:
    operator: str
    left: Any
    right: Any
    pattern: regex.Pattern | None = None

    def evaluate(self, context: dict) -> bool:
        left = self.left.evaluate(context)
        right = self.right.evaluate(context)
        if self.operator == "==":
            return _equal(left, right)
        if self.operator == "!=":
            return not _equal(left, right)
        if self.operator == "contains":
            return _contains(left, right)
        if self.operator == "not contains":
            return left is not None and not _contains(left, right)
        if self.operator == "in":
            return _contains(right, left)
        if self.operator == "matches":
            return isinstance(left, str) and _search(self.pattern or _compile(right), left)
        return _order(self.operator, left, right)


def truthy(value: Any) -> bool:
    return bool(value)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _equal(left: Any, right: Any) -> bool:
    left_number, right_number = _number(left), _number(right)
    both_text = isinstance(left, str) and isinstance(right, str)
    if left_number is not None and right_number is not None and not both_text:
        return left_number == right_number
    if both_text:
        return left.casefold() == right.casefold()
    return left == right


def _contains(container: Any, item: Any) -> bool:
    if container is None or item is None:
        return False
    if isinstance(container, str):
        return str(item).casefold() in container.casefold()
    if isinstance(container, list | tuple):
        return any(_equal(element, item) for element in container)
    if isinstance(container, dict):
        return item in container
    raise ConditionError(f"'contains' needs text or a list on its left, got {type(container).__name__}")


def _order(operator: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        left, right = left_number, right_number
    elif not (isinstance(left, str) and isinstance(right, str)):
        raise ConditionError(f"cannot compare {left!r} {operator} {right!r}")
    if operator == "<":
        return left < right
    if operator == "<=":
        return left <= right
    if operator == ">":
        return left > right
    return left >= right


def _compile(pattern: Any) -> regex.Pattern:
    if not isinstance(pattern, str):
        raise ConditionError(f"'matches' needs a regular expression in quotes, got {pattern!r}")
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ConditionError(f"invalid regular expression {pattern!r}: {exc}") from None


def _search(pattern: regex.Pattern, text: str) -> bool:
    try:
        return pattern.search(text, timeout=MATCH_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        raise ConditionError(
            f"the regular expression {pattern.pattern!r} took over {MATCH_TIMEOUT_SECONDS:g} s on a text of "
            f"{len(text)} characters; simplify it"
        ) from None


@dataclass(frozen=True)
class Condition:
    """A parsed expression: evaluate it against the execution context (plain dicts and lists)."""

    expression: str
    tree: Any

    def evaluate(self, context: dict) -> bool:
        return truthy(self.tree.evaluate(context))

    @property
    def paths(self) -> list[str]:
        """Every context path the expression reads, e.g. ["decision.confidence"]."""
        found = []
        pending = [self.tree]
        while pending:
            node = pending.pop()
            if isinstance(node, Path):
                found.append(str(node))
            elif isinstance(node, Not):
                pending.append(node.operand)
            elif isinstance(node, BooleanOperation):
                pending.extend(node.operands)
            elif isinstance(node, Comparison):
                pending.extend([node.left, node.right])
        return sorted(set(found))


class _Parser:
    def __init__(self, expression: str):
        self.tokens = tokenize(expression)
        self.index = 0

    def peek(self, offset: int = 0) -> Token | None:
        position = self.index + offset
        return self.tokens[position] if position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ConditionError("the expression ends too early")
        self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "keyword" and token.text == word

    def parse(self):
        if not self.tokens:
            raise ConditionError("the expression is empty")
        tree = self.or_expr()
        leftover = self.peek()
        if leftover is not None:
            raise ConditionError(f"unexpected {leftover.text!r} at position {leftover.position}")
        return tree

    def or_expr(self):
        operands = [self.and_expr()]
        while self.at_keyword("or"):
            self.take()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BooleanOperation("or", tuple(operands))

    def and_expr(self):
        operands = [self.not_expr()]
        while self.at_keyword("and"):
            self.take()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else BooleanOperation("and", tuple(operands))

    def not_expr(self):
        if self.at_keyword("not"):
            self.take()
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self):
        left = self.operand()
        operator = self.comparison_operator()
        if operator is None:
            return left
        right = self.operand()
        if operator == "matches":
            if not isinstance(right, Literal):
                raise ConditionError("'matches' needs a regular expression in quotes on its right")
            return Comparison(operator, left, right, _compile(right.value))
        return Comparison(operator, left, right)

    def comparison_operator(self) -> str | None:
        token = self.peek()
        if token is None:
            return None
        if token.kind == "operator":
            self.take()
            return "matches" if token.text == "=~" else token.text
        if token.kind == "keyword" and token.text in COMPARISON_WORDS:
            self.take()
            return token.text
        following = self.peek(1)
        if token.kind == "keyword" and token.text == "not" and following and following.text == "contains":
            self.take()
            self.take()
            return "not contains"
        return None

    def operand(self):
        token = self.take()
        if token.kind == "number":
            return Literal(Decimal(token.text))
        if token.kind == "string":
            return Literal(_unquote(token.text))
        if token.kind == "keyword" and token.text in {"true", "false", "null", "none"}:
            return Literal({"true": True, "false": False}.get(token.text))
        if token.kind == "open":
            inner = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != "close":
                raise ConditionError(f"missing ')' for the '(' at position {token.position}")
            self.take()
            return inner
        if token.kind == "name":
            return self.path(token)
        raise ConditionError(f"expected a value at position {token.position}, got {token.text!r}")

    def path(self, first: Token) -> Path:
        parts = [self.path_part(first)]
        while (token := self.peek()) is not None and token.kind == "dot":
            self.take()
            part = self.take()
            if part.kind == "number" and part.text.isdigit():
                parts.append(part.text)
            elif part.kind in {"name", "keyword"}:
                parts.append(self.path_part(part))
            else:
                raise ConditionError(f"expected a name after '.' at position {part.position}")
        following = self.peek()
        if following is not None and following.kind == "open":
            raise ConditionError(f"function calls are not allowed ({'.'.join(parts)}(…) at position "
                                 f"{following.position})")
        return Path(tuple(parts))

    @staticmethod
    def path_part(token: Token) -> str:
        if token.text.startswith("_"):
            raise ConditionError(f"names starting with '_' are not allowed ({token.text!r} at position "
                                 f"{token.position})")
        return token.text


def parse_condition(expression: str) -> Condition:
    """Parse an expression; raises ConditionError saying what is wrong and where."""
    if not isinstance(expression, str):
        raise ConditionError(f"the expression must be text, got {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ConditionError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    return Condition(expression, _Parser(expression).parse())
