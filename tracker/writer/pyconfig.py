"""Read a nanoGPT-style Python config file without running it.

Top-level assignments whose values are literals (numbers, strings, lists, dicts, ...) or simple arithmetic
on literals and earlier names are taken; everything else (imports, calls, attribute access) is skipped and
reported. The file is parsed with `ast`, never executed.
"""

from __future__ import annotations

import ast
import operator
from pathlib import Path
from typing import Any

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Not: operator.not_}
_MAX_POWER = 256  # `10 ** 10 ** 10` must not hang the reader


class _Unsafe(Exception):
    """The expression is not a plain literal computation."""


def _evaluate(node: ast.AST, names: dict[str, Any]) -> Any:
    """Evaluate literals, containers, names already bound, and arithmetic on them; raise _Unsafe otherwise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_evaluate(e, names) for e in node.elts]
        return items if not isinstance(node, ast.Set) else sorted(set(items), key=repr)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _Unsafe("dict unpacking")
        return {_evaluate(k, names): _evaluate(v, names) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        raise _Unsafe(f"unknown name {node.id}")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, names))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > _MAX_POWER:
            raise _Unsafe("exponent too large")
        if isinstance(node.op, ast.Mult) and any(isinstance(x, (str, list)) for x in (left, right)):
            raise _Unsafe("sequence repetition")
        try:
            return _BINOPS[type(node.op)](left, right)
        except Exception as exc:  # a ZeroDivisionError or TypeError in the file is the file's problem
            raise _Unsafe(str(exc)) from exc
    raise _Unsafe(type(node).__name__)


def parse_python_config(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Return (values, skipped) for a Python config file; `skipped` says which lines were not taken and why."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    values: dict[str, Any] = {}
    skipped: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring or bare string
        else:
            skipped.append(f"line {stmt.lineno}: {type(stmt).__name__.lower()} not read")
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if len(names) != len(targets):
            skipped.append(f"line {stmt.lineno}: only plain `name = value` assignments are read")
            continue
        try:
            result = _evaluate(value, values)
        except _Unsafe as why:
            skipped.append(f"line {stmt.lineno}: {', '.join(names)} is not a literal ({why})")
            continue
        for name in names:
            if not name.startswith("_"):
                values[name] = result
    return values, skipped
