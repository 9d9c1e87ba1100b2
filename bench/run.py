"""The benchmark: aurora-migrate against the floor (psycopg2 / `psql -1`) and bare Alembic.

    python -m bench.run            # full: several runs per figure, 50/500/300 revisions
    python -m bench.run --quick    # CI: few runs, small sizes, under a minute; no RESULTS.md

Starts its own throwaway PostgreSQL cluster (runner.local.localpg), generates projects in
a temporary folder (bench.generate), runs every comparison alternating A/B/C in the same
round, and prints medians and ratios; the full run also writes bench/RESULTS.md. No figure
is asserted: the targets are printed next to the ratios, for a human to read.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.generate import REPO, realistic_chain, straight_chain, write_project

BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


class Bench:
    """One cluster, one scratch folder, and the rows of the report."""

    def __init__(self, root: Path, runs: int) -> None:
        from runner.local.localpg import cluster_at, find_bindir

        self.root, self.runs = root, runs
        self.cluster = cluster_at(root / "pg")
        self.cluster.init(password="bench-" + uuid.uuid4().hex[:12])
        self.cluster.start()
        self.psql = str(find_bindir() / "psql")
        self.rows: list[tuple[str, str, float, str]] = []  # figure, what, median ms, ratio/target

    def close(self) -> None:
        self.cluster.destroy()

    def new_db(self) -> str:
        url = self.cluster.create_database(f"b_{uuid.uuid4().hex[:10]}")
        return url.render_as_string(hide_password=False)

    def env(self, url: str, ini: Path) -> dict[str, str]:
        return child_env(DATABASE_URL=url, ALEMBIC_CONFIG=str(ini), PGOPTIONS="")

    def run(self, argv: list[str], env: dict[str, str]) -> tuple[float, int]:
        """(seconds, peak RSS in KB) of one child process; it must succeed."""
        started = time.perf_counter()
        child = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        stderr = child.stderr.read().decode() if child.stderr else ""
        if status != 0:
            raise SystemExit(f"{Path(argv[0]).name} failed:\n{stderr[-2000:]}")
        return elapsed, usage.ru_maxrss

    def compare(
        self,
        figure: str,
        contenders: dict[str, Callable[[], float]],
        base: str,
        notes: dict[str, str],
    ) -> dict[str, float]:
        """Each contender once per round, alternating; medians in ms, ratios against `base`."""
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(self.runs):
            for name, measure in contenders.items():
                times[name].append(measure() * 1000)
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, value in medians.items():
            ratio = "" if name == base else f"{value / medians[base]:.2f}x {base}"
            self.rows.append((figure, name, value, f"{ratio} {notes.get(name, '')}".strip()))
        return medians

    def note(self, figure: str, what: str, value: float, extra: str) -> None:
        self.rows.append((figure, what, value, extra))


def child_env(**extra: str) -> dict[str, str]:
    """A measured process's environment: as installed, with Python's bytecode cache on.

    A set PYTHONDONTWRITEBYTECODE would make every run compile this project's modules and the
    revision files again, which no installed package does (pip writes the bytecode of what it
    installs), so it is dropped; the first run of each figure writes the cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


FLOOR = (
    "import psycopg2, os; c = psycopg2.connect(os.environ['DSN']); cur = c.cursor(); "
    "cur.execute('SELECT version_num FROM alembic_version'); cur.fetchall(); c.close()"
)
# The Lambda handler in a new process; each asserts which path answered, so a figure can never
# silently measure the other one (e.g. the fast path falling back to the engine).
HANDLER_NOOP = (
    "from runner.adapters import handler; r = handler.handler({'command': 'upgrade'}, None); "
    "assert r['applied'] == [], r; "
    "assert handler._engine is None, 'the fast path did not answer'"
)
HANDLER_ENGINE_NOOP = (
    "from runner.adapters import handler; r = handler.handler({'command': 'upgrade'}, None); "
    "assert r['applied'] == [], r; assert handler._engine is not None, 'the engine did not run'"
)


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://")


def offline_sql(b: Bench, ini: Path, url: str) -> Path:
    """What bare Alembic sends for `upgrade head`, as one script for `psql -1 -f`."""
    out = subprocess.run(
        [str(BIN / "alembic"), "-c", str(ini), "upgrade", "head", "--sql"],
        env=b.env(url, ini),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # psql -1 is the one transaction; the per-revision BEGIN/COMMIT would break out of it
    body = re.sub(r"(?m)^(BEGIN|COMMIT);\s*$", "", out)
    path = ini.parent / "upgrade.sql"
    path.write_text(body)
    return path


def cold_and_warm(b: Bench) -> None:
    root = Path(tempfile.mkdtemp(dir=b.root))
    ini = write_project(root, straight_chain(20))
    url = b.new_db()
    env = b.env(url, ini)
    # applied by the runner, as in production: the history records the checksums the fast
    # path compares (a database only bare Alembic touched has none, and gets the engine)
    b.run([str(BIN / "aurora-migrate"), "upgrade", "-q"], env)
    env_floor = {**env, "DSN": dsn(url)}
    no_manifest = {**env, "ALEMBIC_CONFIG": str(_without_manifest(root))}
    b.compare(
        "cold no-op (new process)",
        {
            "alembic upgrade head": lambda: b.run(
                [str(BIN / "alembic"), "-c", str(ini), "upgrade", "head"], env
            )[0],
            "floor: psycopg2 connect+select": lambda: b.run(python(FLOOR), env_floor)[0],
            "aurora-migrate upgrade (CLI)": lambda: b.run(
                [str(BIN / "aurora-migrate"), "upgrade", "-q"], env
            )[0],
            "handler, fast path": lambda: b.run(python(HANDLER_NOOP), env)[0],
            "handler, no manifest (engine)": lambda: b.run(
                python(HANDLER_ENGINE_NOOP), no_manifest
            )[0],
        },
        "alembic upgrade head",
        {
            "aurora-migrate upgrade (CLI)": "(target <=0.25 cold, <=0.33 CLI)",
            "handler, fast path": "(target <=0.25)",
        },
    )
    warm(b, url, ini, root)


def _without_manifest(root: Path) -> Path:
    """The same project in a sibling folder with no manifest.json: the engine answers."""
    other = root.parent / (root.name + "-nomanifest")
    if not other.exists():
        shutil.copytree(root, other, ignore=shutil.ignore_patterns("manifest.json"))
    return other / "alembic.ini"


def warm(b: Bench, url: str, ini: Path, root: Path) -> None:
    import psycopg2

    from runner.adapters import handler

    def floor() -> float:
        started = time.perf_counter()
        conn = psycopg2.connect(dsn(url))
        with conn.cursor() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            cur.fetchall()
        conn.close()
        return time.perf_counter() - started

    def second_call(alembic_ini: Path, *, fast: bool) -> Callable[[], float]:
        def measure() -> float:
            os.environ.update({"DATABASE_URL": url, "ALEMBIC_CONFIG": str(alembic_ini)})
            handler.reset_engine()
            with contextlib.redirect_stdout(io.StringIO()):  # the EMF line, as in Lambda
                handler.handler({"command": "upgrade"}, None)
                started = time.perf_counter()
                handler.handler({"command": "upgrade"}, None)
                elapsed = time.perf_counter() - started
            assert (handler._engine is None) == fast, "the expected path did not answer"
            return elapsed

        return measure

    def alembic_second_call() -> float:
        """Bare Alembic's `command.upgrade(config, "head")`, called twice in one process."""
        from alembic.config import Config

        from alembic import command

        os.environ.update({"DATABASE_URL": url, "ALEMBIC_CONFIG": str(ini)})
        command.upgrade(Config(str(ini)), "head")
        started = time.perf_counter()
        command.upgrade(Config(str(ini)), "head")
        return time.perf_counter() - started

    import logging

    logging.disable(logging.INFO)  # the handler's JSON log lines are not what we measure
    b.compare(
        "warm no-op (second call in one process)",
        {
            "floor: psycopg2 connect+select": floor,
            "alembic upgrade head (command.upgrade)": alembic_second_call,
            "handler, fast path": second_call(ini, fast=True),
            "handler, no manifest (engine)": second_call(_without_manifest(root), fast=False),
        },
        "floor: psycopg2 connect+select",
        {"handler, fast path": "(target <=3)"},
    )
    handler.reset_engine()


def apply(
    b: Bench, figure: str, revisions: list[tuple[str, object, list[str]]], target: str
) -> None:
    root = Path(tempfile.mkdtemp(dir=b.root))
    ini = write_project(root, revisions)
    sql = offline_sql(b, ini, b.new_db())
    rss: list[int] = []

    def fresh(argv: Callable[[str], list[str]], keep_rss: bool = False) -> Callable[[], float]:
        def measure() -> float:
            url = b.new_db()
            seconds, peak = b.run(argv(url), b.env(url, ini))
            if keep_rss:
                rss.append(peak)
            b.cluster.drop_database(url.rsplit("/", 1)[1])
            return seconds

        return measure

    psql = lambda url: [b.psql, dsn(url), "-1", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(sql)]  # noqa: E731
    b.compare(
        figure,
        {
            "floor: psql -1 -f": fresh(psql),
            "alembic upgrade head": fresh(
                lambda url: [str(BIN / "alembic"), "-c", str(ini), "upgrade", "head"]
            ),
            "aurora-migrate upgrade": fresh(
                lambda url: [str(BIN / "aurora-migrate"), "upgrade", "-q"], True
            ),
        },
        "floor: psql -1 -f",
        {"aurora-migrate upgrade": f"(target <={target})"},
    )
    b.note(
        figure,
        "peak RSS of aurora-migrate upgrade (MB)",
        statistics.median(rss) / 1024,
        "(target <150 MB)",
    )
    if len(revisions) >= 200:
        heads(b, ini, figure)


def heads(b: Bench, ini: Path, chain: str) -> None:
    env = b.env("postgresql+psycopg2://unused@127.0.0.1:1/none", ini)
    b.compare(
        f"heads ({chain})",
        {
            "alembic heads": lambda: b.run([str(BIN / "alembic"), "-c", str(ini), "heads"], env)[0],
            "aurora-migrate heads": lambda: b.run(
                [str(BIN / "aurora-migrate"), "heads", "-q"], env
            )[0],
        },
        "alembic heads",
        {"aurora-migrate heads": "(target <=0.33)"},
    )


def import_time(b: Bench, old_commit: str | None) -> None:
    """Cumulative import time of the handler module (python -X importtime), new process each."""

    def measure(module: str, path: str = "") -> Callable[[], float]:
        def once() -> float:
            env = child_env(PYTHONPATH=f"{path}{os.pathsep}{REPO}" if path else str(REPO))
            out = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", f"import {module}"],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stderr
            line = [x for x in out.splitlines() if x.rstrip().endswith(f"| {module}")][-1]
            return int(line.split("|")[1]) / 1e6

        return once

    contenders = {"import runner.adapters.handler (now)": measure("runner.adapters.handler")}
    if old_commit:
        folder = b.root / "old"
        folder.mkdir(exist_ok=True)
        old = subprocess.run(
            ["git", "show", f"{old_commit}:runner/adapters/handler.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        if old.returncode == 0:
            (folder / "old_handler.py").write_text(old.stdout)
            contenders[f"import handler as of {old_commit[:7]}"] = measure(
                "old_handler", str(folder)
            )
    b.compare(
        "handler import (cumulative, -X importtime)",
        contenders,
        "import runner.adapters.handler (now)",
        {"import runner.adapters.handler (now)": "(target <60 ms)"},
    )


def bundle_size(b: Bench, quick: bool) -> None:
    """`aurora-migrate bundle` for the stack's platform (python3.12, arm64): zipped and unzipped.

    pip downloads manylinux wheels for it, so this needs the package index; a build that fails
    is reported, not fatal. --quick skips it (CI runs it under a minute)."""
    figure = "bundle size (arm64, Python 3.12)"
    if quick:
        print(f"{figure}: skipped in --quick (it pip-downloads the Lambda platform's wheels)")
        return
    from runner.bundle.build import build_bundle
    from runner.core.errors import AuroraMigrationsError, ExpectedSchemaUnavailable

    out = b.root / "bundle"
    try:
        try:
            report = build_bundle(out, arch="arm64", python_version="3.12")
        except ExpectedSchemaUnavailable:
            shutil.rmtree(out, ignore_errors=True)
            report = build_bundle(out, arch="arm64", python_version="3.12", expected_schema=False)
    except AuroraMigrationsError as exc:
        print(f"{figure}: not measured, the bundle did not build: {exc.message[:500]}")
        b.note(figure, "not measured (the bundle did not build; see the output)", 0.0, "")
        return
    finally:
        shutil.rmtree(out, ignore_errors=True)
    b.note(figure, "unzipped (MB, not ms)", report.unzipped_bytes / 1e6, "(aim <=40 MB)")
    b.note(figure, "zipped (MB, not ms)", report.zipped_bytes / 1e6, "(aim <=12 MB)")


def table(b: Bench) -> str:
    lines = ["| figure | what | median ms | ratio (target) |", "| --- | --- | ---: | --- |"]
    lines += [f"| {f} | {w} | {v:.1f} | {r} |" for f, w, v, r in b.rows]
    return "\n".join(lines)


def versions() -> str:
    import psycopg2
    import sqlalchemy

    import alembic

    pg = subprocess.run(
        [str(Path(BenchPaths.psql)), "--version"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"Python {platform.python_version()}, Alembic {alembic.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}, psycopg2 {psycopg2.__version__.split()[0]}, {pg}"
    )


class BenchPaths:
    psql = "psql"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few runs, small sizes (CI)")
    parser.add_argument("--runs", type=int, help="runs per figure (default 7, quick 2)")
    parser.add_argument(
        "--before", default="7bcfaaf", help="commit whose handler import to compare"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 7)
    sizes = (20, 50, 60) if args.quick else (50, 500, 300)
    root = Path(tempfile.mkdtemp(prefix="aurora-bench-"))
    root.chmod(0o755)  # the server runs as postgres when we are root
    b = Bench(root, runs)
    BenchPaths.psql = b.psql
    started = time.monotonic()
    try:
        import_time(b, args.before)
        cold_and_warm(b)
        apply(b, f"apply {sizes[0]} revisions from empty", straight_chain(sizes[0]), "1.25")
        apply(b, f"apply {sizes[1]} revisions from empty", straight_chain(sizes[1]), "1.25")
        apply(b, f"realistic chain, {sizes[2]} revisions", realistic_chain(sizes[2]), "1.5")
        bundle_size(b, args.quick)
    finally:
        b.close()
        shutil.rmtree(root, ignore_errors=True)
    report = table(b)
    print(report)
    print(f"\n{runs} run(s) per figure, {time.monotonic() - started:.0f} s in all")
    if not args.quick:
        header = (
            f"# Benchmark results\n\n{datetime.date.today().isoformat()}, "
            f"{platform.machine()}, {os.cpu_count()} CPU(s), {platform.platform()}; "
            f"{versions()}. Medians of {runs} runs, each comparison alternated in one run.\n\n"
        )
        RESULTS.write_text(header + report + "\n")
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
