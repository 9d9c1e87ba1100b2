"""Revision expressions, resolved to concrete revision ids before anything runs.

An expression (`head`, `heads`, `base`, `0017`, `head-1`, `0017+2`, `-1`) is resolved
against the revision tree and the database's current heads into a `Resolution`: the exact
revisions the database is asked to be at, and the exact revisions to apply or revert, in
order. The engine then runs exactly that. Anything that cannot be resolved to one answer is
refused: a step past base or past a head, a step across a branch or merge point, a relative
step from several heads, an `upgrade` to a revision behind the database, a `downgrade` to
one ahead of it. Everything here is pure: the tree arrives as a `RevisionGraph`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from runner.core.errors import (
    FieldTooLong,
    InvalidTarget,
    MalformedRevision,
    MultipleHeads,
    UnknownRevision,
)
from runner.core.redact import echo

MAX_LENGTH = 255  # characters in a `revision` or `confirm` field
ECHO_LENGTH = 60  # characters of user input repeated back in a message
PARTIAL_ID_MIN = 4  # Alembic's rule: a prefix names a revision from four characters on
_EXPRESSION = re.compile(r"(?P<anchor>[0-9A-Za-z_]+)?(?:(?P<sign>[+-])(?P<steps>[0-9]+))?")
_KEYWORDS = ("head", "heads", "base")


def shown(value: str, limit: int = ECHO_LENGTH) -> str:
    """User input as a message repeats it: quoted, and cut short when long."""
    return echo(value, limit)


def check_length(name: str, value: str) -> None:
    if len(value) > MAX_LENGTH:
        hint = (
            "Send the database's current revision (see `current`)."
            if name == "confirm"
            else "Send a revision id, 'head', 'base' or a short step."
        )
        raise FieldTooLong(
            f"{name!r} is {len(value)} characters long ({shown(value)}); at most "
            f"{MAX_LENGTH} are accepted. {hint}",
            field=name,
            length=len(value),
        )


@dataclass(frozen=True)
class Expression:
    """A parsed expression: an anchor (None: the database's revision) and a signed step."""

    text: str
    anchor: str | None
    steps: int | None  # None: no step was written (`heads` and `heads+0` differ)

    @property
    def relative(self) -> bool:
        return self.steps is not None


def parse(text: str) -> Expression:
    """Check the grammar (whole string, no trailing newline) and the length."""
    check_length("revision", text)
    match = _EXPRESSION.fullmatch(text)
    if not text or match is None:
        raise MalformedRevision(
            f"{shown(text)} is not a revision expression. Use a revision id (e.g. 0017), "
            "'head', 'heads', 'base', or a relative step such as '-1', '+2', 'head-1' or "
            "'0017+1'.",
            revision=text[:ECHO_LENGTH],
        )
    steps = match.group("steps")
    signed = None if steps is None else int(steps) * (-1 if match.group("sign") == "-" else 1)
    return Expression(text, match.group("anchor"), signed)


@dataclass(frozen=True)
class RevisionGraph:
    """The revision tree: each revision and its down revisions. Ids are unique."""

    parents: Mapping[str, tuple[str, ...]]
    children: Mapping[str, tuple[str, ...]] = field(init=False)
    order: tuple[str, ...] = field(init=False)  # base first; parents before children

    def __post_init__(self) -> None:
        kids: dict[str, list[str]] = {rev: [] for rev in self.parents}
        for rev, downs in self.parents.items():
            for down in downs:
                kids[down].append(rev)
        object.__setattr__(self, "children", {k: tuple(sorted(v)) for k, v in kids.items()})
        object.__setattr__(self, "order", _topological(self.parents, self.children))

    @property
    def heads(self) -> list[str]:
        return sorted(rev for rev, kids in self.children.items() if not kids)

    @property
    def roots(self) -> list[str]:
        return sorted(rev for rev, downs in self.parents.items() if not downs)

    def ancestors(self, revs: Iterable[str]) -> set[str]:
        """The revisions and everything below them (what is applied when they are)."""
        seen: set[str] = set()
        todo = list(revs)
        while todo:
            rev = todo.pop()
            if rev not in seen:
                seen.add(rev)
                todo.extend(self.parents[rev])
        return seen

    def heads_of(self, revs: set[str]) -> tuple[str, ...]:
        """The revisions of an applied set that nothing else in the set builds on."""
        return tuple(sorted(r for r in revs if not any(k in revs for k in self.children[r])))

    def lookup(self, text: str, expression: str) -> str:
        """A full id, or a prefix of at least four characters that names one revision."""
        if text in self.parents:
            return text
        found = (
            sorted(rev for rev in self.parents if rev.startswith(text))
            if len(text) >= PARTIAL_ID_MIN
            else []
        )
        if len(found) == 1:
            return found[0]
        why = (
            f"{shown(text)} is the start of several revisions ({', '.join(found)})"
            if found
            else f"there is no revision {shown(text)} in this project"
        )
        where = "" if text == expression else f" (in {shown(expression)})"
        raise UnknownRevision(
            f"{why[0].upper()}{why[1:]}{where}. List the revisions with `history`.",
            revision=expression[:ECHO_LENGTH],
        )


def _topological(
    parents: Mapping[str, tuple[str, ...]], children: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    waiting = {rev: len(downs) for rev, downs in parents.items()}
    ready = sorted(rev for rev, count in waiting.items() if count == 0)
    order: list[str] = []
    while ready:
        rev = ready.pop(0)
        order.append(rev)
        for kid in children[rev]:
            waiting[kid] -= 1
            if waiting[kid] == 0:
                ready.append(kid)
        ready.sort()
    return tuple(order)


@dataclass(frozen=True)
class Resolution:
    """What a command will do, in concrete ids. `run` is in the order it runs."""

    expression: str
    direction: str  # "up", "down" or "stamp"
    target: tuple[str, ...]  # () is base
    run: tuple[str, ...]  # revisions applied (up) or reverted (down); () for stamp
    after: tuple[str, ...]  # the database's heads once every step ran
    stamps: tuple[tuple[str | None, str | None], ...] = ()  # stamp: (removed, recorded) pairs

    @property
    def label(self) -> str:
        return label(self.target)


def label(revs: Sequence[str]) -> str:
    return ",".join(revs) if revs else "base"


def locate_statically(graph: RevisionGraph, expr: Expression) -> tuple[str, ...] | None:
    """The target, when it does not depend on the database (None when it does)."""
    if expr.anchor is None:
        return None
    return locate(graph, expr, ())


def locate(graph: RevisionGraph, expr: Expression, current: Sequence[str]) -> tuple[str, ...]:
    """The concrete revisions an expression names; () is base."""
    anchor = expr.anchor
    if anchor == "heads" and not expr.relative:
        return tuple(graph.heads)
    if anchor in ("head", "heads"):
        heads = graph.heads
        if len(heads) > 1:
            raise MultipleHeads(
                f"The revision tree has {len(heads)} heads ({', '.join(heads)}), so "
                f"{shown(expr.text)} is ambiguous. Merge them with `alembic merge heads`, "
                "or name one revision explicitly.",
                heads=heads,
            )
        start = heads[0] if heads else None
    elif anchor == "base":
        start = None
    elif anchor is None:
        if len(current) > 1:
            raise MultipleHeads(
                f"The database is at {len(current)} heads ({', '.join(current)}), so the "
                f"relative step {shown(expr.text)} is ambiguous. Name the target revision "
                "instead (see `history`).",
                heads=list(current),
            )
        start = current[0] if current else None
    else:
        start = graph.lookup(anchor, expr.text)
    return _walk(graph, expr, start)


def _walk(graph: RevisionGraph, expr: Expression, start: str | None) -> tuple[str, ...]:
    steps = expr.steps or 0
    up = steps > 0
    node = start
    for taken in range(abs(steps)):
        if taken > len(graph.parents):  # no straight line is that long: out of range anyway
            break
        if up:
            options = list(graph.children[node]) if node else graph.roots
            if not options:
                break
        else:
            if node is None:
                break
            options = list(graph.parents[node])
            if not options:
                node = None
                continue
        if len(options) > 1:
            where = "base" if node is None else node
            kind = "branches into" if up else "merges"
            raise InvalidTarget(
                f"{shown(expr.text)} is ambiguous: after {taken} step(s), {where} {kind} "
                f"{', '.join(options)}. Name the target revision instead "
                "(see `history`).",
                revision=expr.text[:ECHO_LENGTH],
            )
        node = options[0]
    else:
        return () if node is None else (node,)
    end = "a head" if up else "base"
    raise InvalidTarget(
        f"{shown(expr.text)} is out of range: it steps {abs(steps)} revision(s) "
        f"{'up' if up else 'down'} from {start or 'base'}, past {end}. Check the revisions "
        "with `history`.",
        revision=expr.text[:ECHO_LENGTH],
    )


def resolve(
    graph: RevisionGraph, expr: Expression, current: Sequence[str], direction: str
) -> Resolution:
    """Resolve for "up", "down", "stamp", or "either" (down only when the target is behind)."""
    target = locate(graph, expr, current)
    applied = graph.ancestors(current)
    wanted = graph.ancestors(target)
    behind = any(t in applied and t not in current for t in target) or bool(current and not target)
    ahead = any(t not in applied for t in target)
    if direction == "either":
        direction = "down" if behind else "up"
    if direction == "stamp":
        return Resolution(
            expr.text, direction, target, (), tuple(sorted(target)), _stamps(current, target)
        )
    if direction == "up":
        if behind:
            raise _wrong_way(expr, target, current, "behind", "downgrade")
        todo = wanted - applied
        run = tuple(rev for rev in graph.order if rev in todo)
        return Resolution(expr.text, direction, target, run, graph.heads_of(applied | wanted))
    if ahead:
        raise _wrong_way(expr, target, current, "ahead of", "upgrade")
    todo = applied - wanted
    run = tuple(rev for rev in reversed(graph.order) if rev in todo)
    return Resolution(expr.text, "down", target, run, graph.heads_of(wanted))


def _stamps(
    current: Sequence[str], target: Sequence[str]
) -> tuple[tuple[str | None, str | None], ...]:
    """Version-table moves that leave exactly `target`: replace, then remove or add."""
    removed = [rev for rev in sorted(current) if rev not in target]
    added = [rev for rev in sorted(target) if rev not in current]
    pairs: list[tuple[str | None, str | None]] = list(zip(removed, added, strict=False))
    pairs += [(rev, None) for rev in removed[len(added) :]]
    pairs += [(None, rev) for rev in added[len(removed) :]]
    return tuple(pairs)


def _wrong_way(
    expr: Expression, target: Sequence[str], current: Sequence[str], where: str, other: str
) -> InvalidTarget:
    state = ", ".join(current) if current else "base (no revision applied)"
    named = label(target)
    via = "" if expr.text == named else f" ({shown(expr.text)})"
    verb = "downgrade" if other == "upgrade" else "upgrade"
    return InvalidTarget(
        f"Cannot {verb} to {named}{via}: it is {where} the database, which is at {state}. "
        f"Use `{other}` to go there{' (it needs confirm)' if other == 'downgrade' else ''}, "
        "or check the revisions with `history`.",
        revision=expr.text[:ECHO_LENGTH],
        target=list(target),
        current=list(current),
    )
