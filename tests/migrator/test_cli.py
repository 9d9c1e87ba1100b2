"""`aurora-migrate bootstrap-migrator`: --confirm, master credentials only from the environment,
exit codes (2: refused, nothing touched; 1: failed), and no password in any output: stdout,
stderr, JSON, log lines, nor the server's own statement log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.bootstrap import BootstrapOptions, for_review
from runner.core.lock import LOCK_KEY
from tests.conftest import REPO, Server
from tests.migrator.support import ADMIN_PASSWORD, PASSWORD, Db, connected_as, migrator_url

VARIABLES = ("BOOTSTRAP_DATABASE_URL", "MIGRATOR_PASSWORD", "DATABASE_URL", "DB_SECRET_ARN")


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "runner.adapters.cli", "bootstrap-migrator", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def url_text(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@pytest.fixture
def env(db: Db) -> dict[str, str]:
    return {"BOOTSTRAP_DATABASE_URL": url_text(db.url), "MIGRATOR_PASSWORD": PASSWORD}


def test_without_the_right_confirm_nothing_happens(db: Db, role: str, env: dict[str, str]) -> None:
    missing = cli("--role", role, env=env)
    wrong = cli("--role", role, "--confirm", "migrator", env=env)

    for done in (missing, wrong):
        assert done.returncode == 2, done.stderr
        assert "ConfirmationRequired" in done.stderr and f"--confirm {role}" in done.stderr
    assert not db.role_exists(role)


def test_master_credentials_come_only_from_the_environment(db: Db, role: str) -> None:
    """Not from DATABASE_URL (the migrator's own), and never from the command line."""
    runner_own = {"DATABASE_URL": url_text(db.url), "MIGRATOR_PASSWORD": PASSWORD}
    refused = cli("--role", role, "--confirm", role, env=runner_own)
    assert refused.returncode == 2
    assert "ConfigurationError" in refused.stderr and "BOOTSTRAP_DATABASE_URL" in refused.stderr
    secret = str(db.url.password)
    for option, error in (
        ("--admin-url", "UnknownField: --admin-url is refused"),
        ("--admin-url-env", "InvalidFieldType: --admin-url-env and --password-env take the NAME"),
        ("--password", "UnknownField: --password is refused"),
    ):
        on_the_line = cli("--role", role, "--confirm", role, option, url_text(db.url), env={})
        assert on_the_line.returncode == 2 and error in on_the_line.stderr
        assert secret not in on_the_line.stdout + on_the_line.stderr
    assert not db.role_exists(role)

    named = {"MASTER_URL_FOR_NOW": url_text(db.url), "MIGRATOR_PASSWORD": PASSWORD}
    done = cli(
        "--role", role, "--confirm", role, "--admin-url-env", "MASTER_URL_FOR_NOW", env=named
    )
    assert done.returncode == 0, done.stderr
    assert db.role_exists(role)


@pytest.mark.parametrize(
    ("args", "password", "error"),
    [
        ([], None, "MIGRATOR_PASSWORD is not set"),
        ([], "short-pw", "MIGRATOR_PASSWORD is too short"),
        (["--password-env", "OTHER"], PASSWORD, "OTHER is not set"),
    ],
)
def test_without_a_usable_password_nothing_happens(
    args: list[str], password: str | None, error: str, db: Db, role: str
) -> None:
    env = {"BOOTSTRAP_DATABASE_URL": url_text(db.url)}
    if password is not None:
        env["MIGRATOR_PASSWORD"] = password
    done = cli("--role", role, "--confirm", role, *args, env=env)
    assert done.returncode == 2 and error in done.stderr
    assert not db.role_exists(role)


def test_bad_names_and_unsafe_roles_exit_2(db: Db, role: str, env: dict[str, str]) -> None:
    bad_name = cli("--role", "Migrator", "--confirm", "Migrator", "--json", env=env)
    assert bad_name.returncode == 2
    assert json.loads(bad_name.stdout)["errorType"] == "InvalidName"

    db.sql(f"CREATE ROLE {role} LOGIN CREATEROLE")
    refused = cli("--role", role, "--confirm", role, "--json", env=env)
    assert refused.returncode == 2
    error = json.loads(refused.stdout)
    assert error["errorType"] == "BootstrapRefused"
    assert error["problems"] == [f"role {role} may create roles (CREATEROLE)"]


def test_a_run_that_fails_exits_1_and_changes_nothing(
    db: Db, role: str, env: dict[str, str]
) -> None:
    holder = sa.create_engine(db.url)
    try:
        with holder.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
            env = {**env, "MIGRATION_LOCK_WAIT_SECONDS": "0.5"}
            done = cli("--role", role, "--confirm", role, env=env)
    finally:
        holder.dispose()
    assert done.returncode == 1 and "LockWaitTimeout" in done.stderr
    assert not db.role_exists(role)


def test_print_sql_needs_no_database_and_no_credentials() -> None:
    done = cli("--print-sql", "--iam", "--schema", "app", env={})
    assert done.returncode == 0, done.stderr
    assert done.stdout == for_review(BootstrapOptions(schema="app", iam=True))
    as_json = cli("--print-sql", "--json", env={})
    assert json.loads(as_json.stdout)["sql"] == for_review(BootstrapOptions())


def test_json_result_then_a_second_run_that_changes_nothing(
    db: Db, role: str, env: dict[str, str]
) -> None:
    first = cli("--role", role, "--confirm", role, "--json", "-q", env=env)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["ok"] and result["changed"] and result["command"] == "bootstrap-migrator"
    assert (result["role"], result["schema"], result["login"]) == (role, "public", "password")
    assert result["created"][0].startswith(f"role {role} (LOGIN NOSUPERUSER")
    assert result["recorded"] == "in public.aurora_migrations_history at revision base"
    with connected_as(migrator_url(db, role)) as conn:
        assert conn.exec_driver_sql("SELECT current_user").scalar() == role

    second = cli("--role", role, "--confirm", role, env=env)
    assert second.returncode == 0
    assert "Nothing to do" in second.stdout and "already in place" in second.stdout
    assert "created" not in second.stdout and "handed over" not in second.stdout


# --- no password anywhere -------------------------------------------------------------------


def forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]]


@pytest.fixture
def statement_log(db: Db, pg_server: Server) -> Iterator[Path | None]:
    """The server logs every statement of this database (where the suite runs its own
    server, whose log file we can read)."""
    db.sql(f"ALTER DATABASE \"{db.url.database}\" SET log_statement = 'all'")
    yield pg_server.cluster.log_file if pg_server.cluster else None


def test_no_password_in_any_output(
    db: Db, role: str, aurora_admin: URL, statement_log: Path | None
) -> None:
    start = statement_log.stat().st_size if statement_log else 0
    env = {"BOOTSTRAP_DATABASE_URL": url_text(aurora_admin), "MIGRATOR_PASSWORD": PASSWORD}
    changed = {**env, "MIGRATOR_PASSWORD": PASSWORD[::-1]}  # a second password, set later
    runs = [
        cli("--role", role, "--confirm", role, env=env),
        cli("--role", role, "--confirm", role, "--json", env=env),
        cli("--role", role, "--confirm", role, env=changed),
        cli("--role", role, env=env),  # refused
        cli("--role", role, "--confirm", role, "--admin-url-env", "NOPE", env=env),  # refused
        cli("--print-sql", env=env),
    ]
    assert [done.returncode for done in runs] == [0, 0, 0, 2, 2, 0]
    outputs = [text for done in runs for text in (done.stdout, done.stderr)]
    assert any("***" in text for text in outputs)  # the admin URL was shown, masked
    if statement_log:
        server_log = statement_log.read_bytes()[start:].decode(errors="replace")
        assert "ALTER ROLE" in server_log and "SCRAM-SHA-256$" in server_log  # it was logged
        outputs.append(server_log)
    assert any(form in env["BOOTSTRAP_DATABASE_URL"] for form in forms(ADMIN_PASSWORD))

    for secret in (PASSWORD, PASSWORD[::-1], ADMIN_PASSWORD):
        for form in forms(secret):
            for text in outputs:
                assert form not in text, text[max(0, text.find(form) - 200) :][:400]


def test_the_readme_shows_what_print_sql_prints() -> None:
    """The reviewed SQL in the README is the script of this very version."""
    readme = (REPO / "README.md").read_text()
    begin = "<!-- bootstrap-migrator --print-sql: begin -->\n```sql\n"
    end = "```\n<!-- bootstrap-migrator --print-sql: end -->"
    shown = readme.split(begin)[1].split(end)[0]
    assert shown == for_review(BootstrapOptions())
