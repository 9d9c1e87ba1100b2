"""Property: any expression, on any tree, from any state, either is refused or does exactly
what it resolves to.

Over revision trees (a chain, a branched tree, a tree with a merge point), every state the
database can be in, the four commands that take a revision, and expressions built from
anchors (`head`, `heads`, `base`, ids, prefixes, unknown ids, nothing) and signed steps:
- either a typed refusal (`BadRequest`) and the database is exactly as it was,
- or a success whose `target` is what a small independent model resolves the expression
  to, whose `applied` list is that plan in a valid order, and whose final `alembic_version`
  and ledger (which revision bodies ran) are what the plan leads to;
- and never any other error (no `InternalError`, no Alembic `AssertionError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import URL

from runner.adapters.events import parse_event
from runner.core.engine import MigrationEngine
from runner.core.errors import AuroraMigrationsError, BadRequest
from tests.conftest import Server, engine_for, settings_for
from tests.projects import Down, make_project

pytestmark = pytest.mark.slow

TREES: dict[str, list[tuple[str, Down]]] = {
    "chain": [("0001", None), ("0002", "0001"), ("0003", "0002"), ("0004", "0003")],
    "branched": [("0001", None), ("0002a", "0001"), ("0002b", "0001"), ("0003a", "0002a")],
    "merged": [
        ("0001", None),
        ("0002a", "0001"),
        ("0002b", "0001"),
        ("0003", ("0002a", "0002b")),
        ("0004", "0003"),
    ],
}
EXTRA_ANCHORS = ["0002", "0009", "00", "0003b"]  # a shared prefix, unknown, too short


class Refused(Exception):
    """The model says the request must be refused."""


@dataclass
class Tree:
    """The model: parents of each revision, and the questions the oracle asks."""

    parents: dict[str, tuple[str, ...]]

    @property
    def ids(self) -> list[str]:
        return sorted(self.parents)

    def children(self, rev: str | None) -> list[str]:
        if rev is None:
            return [r for r in self.ids if not self.parents[r]]
        return [r for r in self.ids if rev in self.parents[r]]

    @property
    def heads(self) -> list[str]:
        return [r for r in self.ids if not self.children(r)]

    def below(self, revs: Any) -> set[str]:
        out: set[str] = set()
        todo = list(revs)
        while todo:
            rev = todo.pop()
            if rev not in out:
                out.add(rev)
                todo.extend(self.parents[rev])
        return out

    def tops(self, applied: set[str]) -> list[str]:
        return sorted(r for r in applied if not any(k in applied for k in self.children(r)))

    def states(self) -> list[list[str]]:
        """Every version table the database can hold: the tops of every closed set."""
        found = set()
        for size in range(len(self.ids) + 1):
            for subset in combinations(self.ids, size):
                if self.below(subset) == set(subset):
                    found.add(tuple(self.tops(set(subset))))
        return sorted(list(s) for s in found)

    def resolve(self, text: str, current: list[str]) -> tuple[str, ...]:
        """What the expression names, or `Refused`."""
        match = re.fullmatch(r"([0-9A-Za-z_]+)?(?:([+-])([0-9]+))?", text)
        if not text or match is None or len(text) > 255:
            raise Refused
        anchor, sign, digits = match.groups()
        if anchor == "heads" and digits is None:
            return tuple(self.heads)
        if anchor in ("head", "heads"):
            if len(self.heads) != 1:
                raise Refused
            node: str | None = self.heads[0]
        elif anchor == "base":
            node = None
        elif anchor is None:
            if len(current) > 1:
                raise Refused
            node = current[0] if current else None
        elif anchor in self.parents:
            node = anchor
        else:
            hits = [r for r in self.ids if r.startswith(anchor)] if len(anchor) >= 4 else []
            if len(hits) != 1:
                raise Refused
            node = hits[0]
        for _ in range(int(digits or 0)):
            if sign == "+":
                options = self.children(node)
                if len(options) != 1:
                    raise Refused
                node = options[0]
            else:
                if node is None or len(self.parents[node]) > 1:
                    raise Refused
                node = self.parents[node][0] if self.parents[node] else None
        return () if node is None else (node,)


@dataclass
class World:
    tree: Tree
    url: URL
    engine: MigrationEngine


@pytest.fixture(scope="module")
def worlds(
    pg_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, World]]:
    made: dict[str, World] = {}
    for name, revisions in TREES.items():
        root = tmp_path_factory.mktemp(name)
        ini = make_project(root, [(rev, down, f"r{rev}") for rev, down in revisions])
        url = pg_server.create_database()
        parents = {
            rev: (down,) if isinstance(down, str) else (down or ()) for rev, down in revisions
        }
        engine = engine_for(settings_for(url, alembic_config=str(ini)))
        made[name] = World(Tree(parents), url, engine)
    yield made
    for world in made.values():
        world.engine.dispose()
        pg_server.drop_database(world.url)


def put_database_at(url: URL, tree: Tree, state: list[str]) -> None:
    """Set the state directly in SQL, independent of the code under test."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        if state:
            conn.exec_driver_sql(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
            conn.exec_driver_sql("CREATE TABLE ledger (slug TEXT NOT NULL)")
            for rev in state:
                conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": rev})
            for rev in tree.below(state):
                conn.execute(sa.text("INSERT INTO ledger VALUES (:s)"), {"s": f"r{rev}"})
    engine.dispose()


def observe(url: URL) -> tuple[list[str], list[str], int]:
    """alembic_version, the ledger (which bodies ran, with repeats) and history rows."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:

        def table(name: str) -> bool:
            return bool(
                conn.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": name}).scalar()
            )

        heads = (
            sorted(r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version"))
            if table("alembic_version")
            else []
        )
        ledger = (
            sorted(r[0][1:] for r in conn.exec_driver_sql("SELECT slug FROM ledger"))
            if table("ledger")
            else []
        )
        history = (
            conn.exec_driver_sql("SELECT count(*) FROM aurora_migrations_history").scalar()
            if table("aurora_migrations_history")
            else 0
        )
    engine.dispose()
    return heads, ledger, int(history or 0)


@st.composite
def expressions(draw: st.DrawFn, tree: Tree) -> str:
    if draw(st.integers(0, 9)) == 0:  # now and then, anything at all
        return draw(st.text(alphabet="0123456789abhdes+-_ \n", max_size=12))
    anchor = draw(st.sampled_from(["", "head", "heads", "base", *tree.ids, *EXTRA_ANCHORS]))
    step = draw(st.one_of(st.none(), st.integers(-5, 5), st.just(10**40)))
    if step is None:
        return anchor
    return f"{anchor}{'+' if step >= 0 else '-'}{abs(step)}"


@settings(
    max_examples=90,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_refused_untouched_or_exactly_the_resolved_plan(
    worlds: dict[str, World], data: st.DataObject
) -> None:
    world = worlds[data.draw(st.sampled_from(sorted(worlds)), label="tree")]
    tree = world.tree
    state = data.draw(st.sampled_from(tree.states()), label="state")
    command = data.draw(st.sampled_from(["upgrade", "downgrade", "stamp", "sql"]), label="command")
    text = data.draw(expressions(tree), label="expression")
    put_database_at(world.url, tree, state)
    before = observe(world.url)
    event: dict[str, Any] = {"command": command, "revision": text}
    if command in ("downgrade", "stamp"):
        event["confirm"] = ",".join(state) or "base"

    expected = _expected(tree, text, state, command)
    try:
        result = world.engine.run(parse_event(event))
    except BadRequest as exc:
        assert observe(world.url) == before, f"refused ({type(exc).__name__}) but changed"
        assert expected is None, f"refused with {type(exc).__name__}: {exc}; model: {expected}"
        return
    except AuroraMigrationsError as exc:  # pragma: no cover - the property failed
        pytest.fail(f"{type(exc).__name__} is neither a refusal nor a success: {exc}")
    assert expected is not None, f"the model refuses {text!r}, the engine ran {result}"
    target, direction = expected
    assert result.target == (",".join(target) or "base")
    applied = [a.revision for a in result.applied]
    heads, ledger, history = observe(world.url)
    had = tree.below(state)
    if direction == "up":
        wanted = had | tree.below(target)
        _assert_order(tree, applied, had, up=True)
        assert set(applied) == wanted - had and len(applied) == len(wanted - had)
        assert heads == tree.tops(wanted) and ledger == sorted(wanted)
    elif direction == "down":
        wanted = tree.below(target)
        _assert_order(tree, applied, had, up=False)
        assert set(applied) == had - wanted and len(applied) == len(had - wanted)
        assert heads == sorted(target) and ledger == sorted(wanted)
    elif direction == "stamp":
        assert heads == sorted(target) and ledger == before[1]
        assert all(a in tree.parents for a in applied) and history == before[2] + len(applied)
    else:
        assert observe(world.url) == before, "sql changes nothing"
        goal = tree.below(target)
        assert set(result.pending) == (
            goal - had if not _behind(target, state, had) else had - goal
        )
    if direction in ("up", "down"):
        assert history == before[2] + len(applied), "one history row per revision"


def _behind(target: tuple[str, ...], state: list[str], had: set[str]) -> bool:
    return any(t in had and t not in state for t in target) or bool(state and not target)


def _expected(
    tree: Tree, text: str, state: list[str], command: str
) -> tuple[tuple[str, ...], str] | None:
    """The model's answer: (target, direction), or None for a refusal."""
    try:
        target = tree.resolve(text, state)
    except Refused:
        return None
    had = tree.below(state)
    if command == "stamp":
        return target, "stamp"
    if command == "sql":
        return target, "sql"
    if command == "upgrade":
        return None if _behind(target, state, had) else (target, "up")
    return None if any(t not in had for t in target) else (target, "down")


def _assert_order(tree: Tree, applied: list[str], had: set[str], *, up: bool) -> None:
    """Up: every parent is there before its child. Down: no child is left above a parent."""
    present = set(had)
    for rev in applied:
        if up:
            assert all(p in present for p in tree.parents[rev]), f"{rev} before its parents"
            present.add(rev)
        else:
            assert not any(k in present for k in tree.children(rev)), f"{rev} under a child"
            present.discard(rev)


def test_the_model_knows_every_state() -> None:
    """A guard on the oracle itself: the states it starts from are the ones expected."""
    assert Tree({"a": (), "b": ("a",)}).states() == [[], ["a"], ["b"]]
    merged = Tree({r: (d,) if isinstance(d, str) else (d or ()) for r, d in TREES["merged"]})
    assert ["0002a", "0002b"] in merged.states() and len(merged.states()) == 7
