"""Parameterized questions: numbers drawn per attempt, answers computed from them.

A question with a ``variants`` block names its parameters (each a list of values it
may take), an ``answer`` expression, and one ``value`` expression per choice. Its
prompt, choices and explanations are templates with ``{name}`` placeholders; an
attempt draws one value per parameter from its own seed and keeps them
(``AttemptItem.parameters``) so that the question page, its feedback and the
results show the same numbers.

Expressions are a deliberately tiny language, evaluated by walking Python's ``ast``
without ``eval``: numbers, parameter names, ``+ - * / // %``, unary minus, brackets
and the functions in ``FUNCTIONS``. Anything else is refused when the content loads,
so nothing written in a content file can run code.

Invariant (checked by the loader for every combination of parameter values): the
choices whose value equals the answer are exactly the ones marked correct, and no
two choices show the same value, so grading by the flag and grading by the
computation always agree.
"""

from __future__ import annotations

import ast
import itertools
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

Number = int | Fraction
Parameters = dict[str, int]

# A placeholder is a lowercase name in single braces; ``{{...}}`` (fact references,
# hash tags in prompts) never matches.
PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z][a-z0-9]*)\}(?!\})")

FUNCTIONS: dict[str, Callable[..., Number]] = {
    "min": min,
    "max": max,
    "ceil": lambda x: math.ceil(x),
    "floor": lambda x: math.floor(x),
}

_OPERATORS: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    # Exact division: 16384 / 3 stays a fraction instead of becoming a rounded float,
    # so "equals the answer" is an exact comparison.
    ast.Div: lambda a, b: Fraction(a) / Fraction(b),
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
}

# Enough for every combination of a few small parameter lists; beyond it the loader
# would take noticeable time, and a question with that many variants is a data set.
MAX_COMBINATIONS = 2000


class ExpressionError(ValueError):
    """An expression outside the language, or one that cannot be computed."""


def compile_expression(text: str) -> ast.expr:
    """Parse ``text`` and check it uses only the allowed forms."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{text!r} is not an expression: {exc.msg}") from None
    for node in ast.walk(tree):
        allowed = (
            ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.Name, ast.Load,
            ast.Constant, ast.Call, *_OPERATORS,
        )  # fmt: skip
        if not isinstance(node, allowed):
            raise ExpressionError(f"{text!r} uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, int)
        ):
            raise ExpressionError(f"{text!r}: only whole numbers may be written")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise ExpressionError(
                    f"{text!r}: the only functions are {', '.join(sorted(FUNCTIONS))}"
                )
            if node.keywords:
                raise ExpressionError(f"{text!r}: functions take no keyword arguments")
    return tree.body


def names_in(tree: ast.expr) -> set[str]:
    """Parameter names an expression reads (function names excluded)."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def evaluate(tree: ast.expr, values: Mapping[str, int]) -> Number:
    """The value of a compiled expression for one set of parameter values."""
    if isinstance(tree, ast.Constant):
        return int(tree.value)
    if isinstance(tree, ast.Name):
        if tree.id not in values:
            raise ExpressionError(f"unknown name {tree.id!r}")
        return values[tree.id]
    if isinstance(tree, ast.UnaryOp):
        return -evaluate(tree.operand, values)
    if isinstance(tree, ast.BinOp):
        left, right = evaluate(tree.left, values), evaluate(tree.right, values)
        try:
            result = _OPERATORS[type(tree.op)](left, right)
        except ZeroDivisionError:
            raise ExpressionError("division by zero") from None
        return _normal(result)
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        args = [evaluate(arg, values) for arg in tree.args]
        try:
            return _normal(FUNCTIONS[tree.func.id](*args))
        except TypeError as exc:
            raise ExpressionError(f"{tree.func.id}(): {exc}") from None
    raise ExpressionError(f"cannot evaluate {type(tree).__name__}")


def compute(text: str, values: Mapping[str, int]) -> Number:
    return evaluate(compile_expression(text), values)


def _normal(value: Number) -> Number:
    """A whole fraction becomes an int, so 8/2 and 4 compare and print alike."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


def show(value: Number) -> str:
    """How a number reads in a question: 16,384; 2.5; 1/3 as 0.33."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")


def combinations(parameters: Mapping[str, Sequence[int]]) -> Iterator[Parameters]:
    names = sorted(parameters)
    for values in itertools.product(*(parameters[name] for name in names)):
        yield dict(zip(names, values))


def draw(parameters: Mapping[str, Sequence[int]], seed: int, slug: str) -> Parameters:
    """One value per parameter, the same for the same attempt seed and question.

    Seeded per question rather than from the attempt's shuffling generator, so that
    adding a variant to a quiz does not change the order of the other questions.
    """
    rng = random.Random(f"{seed}:{slug}")
    return {name: rng.choice(list(parameters[name])) for name in sorted(parameters)}


def example(parameters: Mapping[str, Sequence[int]]) -> Parameters:
    """The first value of each parameter: what the question bank shows."""
    return {name: list(values)[0] for name, values in parameters.items()}


def fill(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with each ``{name}`` replaced by its number (HTML-safe: digits,
    commas and dots only). Names without a value are left as written."""
    if not values:
        return template

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return show(values[name]) if name in values else match.group(0)

    return PLACEHOLDER.sub(one, template)


def scope(
    spec: Mapping[str, Any], drawn: Mapping[str, int], position: int | None = None
) -> dict[str, Number]:
    """The names a template may use: the parameters, ``answer``, and for the choice at
    1-based ``position`` its own ``value``."""
    values: dict[str, Number] = dict(drawn)
    values["answer"] = compute(spec["answer"], drawn)
    if position is not None:
        values["value"] = compute(spec["values"][position - 1], drawn)
    return values


def correct_positions(spec: Mapping[str, Any], drawn: Mapping[str, int]) -> set[int]:
    """1-based positions of the choices whose value equals the computed answer."""
    answer = compute(spec["answer"], drawn)
    return {
        position
        for position, text in enumerate(spec["values"], start=1)
        if compute(text, drawn) == answer
    }
