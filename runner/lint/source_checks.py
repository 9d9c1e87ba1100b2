"""Checks on the revision's Python source (`ast`), for what rendered SQL cannot show.

Only the upgrade path is checked: everything in the file except a `downgrade` function.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from runner.lint.rules import COMMIT_IN_REVISION, INVALID_LINT_IGNORE, PLAIN_SET_TIMEOUT, Rule

_PLAIN_SET = re.compile(r"\bSET\s+(SESSION\s+)?(lock_timeout|statement_timeout)\b", re.I)
_COMMIT_SQL = re.compile(r"^\s*(COMMIT|END)(\s+(WORK|TRANSACTION))?\s*;?\s*$", re.I)


@dataclass(frozen=True)
class Hit:
    rule: Rule
    line: int
    detail: str


@dataclass(frozen=True)
class Ignores:
    """The revision's `lint_ignore`: rule id -> reason, and where it is written."""

    reasons: dict[str, str]
    line: int | None
    problem: str | None  # why it is malformed, if it is


def check_source(tree: ast.Module) -> list[Hit]:
    hits: list[Hit] = []
    for node in _upgrade_nodes(tree):
        if isinstance(node, ast.Call) and _method(node) == "commit":
            hits.append(Hit(COMMIT_IN_REVISION, node.lineno, "calls `.commit()`"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _COMMIT_SQL.match(node.value):
                hits.append(Hit(COMMIT_IN_REVISION, node.lineno, f"sends {node.value.strip()!r}"))
            found = _PLAIN_SET.search(node.value)
            if found:
                hits.append(Hit(PLAIN_SET_TIMEOUT, node.lineno, f"runs `{found.group(0)}`"))
    return hits


def read_ignores(tree: ast.Module) -> Ignores:
    """The module-level `lint_ignore = {"rule-id": "reason"}`, read without importing the file."""
    for node in tree.body:
        target = _assigned_name(node)
        if target != "lint_ignore":
            continue
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if not isinstance(value, ast.Dict):
            return Ignores({}, node.lineno, "it is not a dict literal")
        reasons: dict[str, str] = {}
        for key, reason in zip(value.keys, value.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return Ignores({}, node.lineno, "a key is not a string literal")
            if not (isinstance(reason, ast.Constant) and isinstance(reason.value, str)):
                return Ignores({}, node.lineno, f"the reason for {key.value!r} is not a string")
            if not reason.value.strip():
                return Ignores({}, node.lineno, f"the reason for {key.value!r} is empty")
            reasons[key.value] = reason.value.strip()
        return Ignores(reasons, node.lineno, None)
    return Ignores({}, None, None)


def invalid_ignore(problem: str, line: int | None) -> Hit:
    return Hit(INVALID_LINT_IGNORE, line or 1, problem)


def _method(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def _upgrade_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    for top in tree.body:
        if isinstance(top, ast.FunctionDef) and top.name == "downgrade":
            continue
        if _assigned_name(top) == "lint_ignore":
            continue
        yield from ast.walk(top)
