"""No password ever appears in a log line, a result, an error message or a traceback.

Each end-to-end test drives real code that DOES emit the password if scrubbing breaks: the
`leaky` revision tree writes the URL into its SQL, hands it to psycopg2 (whose "invalid dsn"
error quotes it back) and raises an unexpected exception carrying it. The password is given
in the spellings users write: in the userinfo or as `?password=`, with lowercase
percent-escapes and `!` left unescaped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core.errors import (
    AuroraMigrationsError,
    AuthenticationFailed,
    InternalError,
    MigrationFailed,
    OfflineSqlUnavailable,
)
from runner.core.results import Request
from tests.conftest import LogCapture, engine_for, settings_for, write_alembic_ini
from tests.leaks import assert_clean, leak, lowercase_escapes
from tests.test_handler import LambdaContext

PASSWORD = "Dist1nct!ve-P@ss:w0rd/%zq"
SPELLINGS = ("userinfo", "query")


@pytest.fixture
def owner_url(database_url: URL) -> Iterator[URL]:
    """The test database, owned by a role whose password is distinctive."""
    role = f"migrator_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'".replace("%", "%%"))
        conn.exec_driver_sql(f'ALTER DATABASE "{database_url.database}" OWNER TO {role}')
        conn.exec_driver_sql(f"ALTER SCHEMA public OWNER TO {role}")
    yield database_url.set(username=role, password=PASSWORD)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{database_url.database}" OWNER TO postgres')
        conn.exec_driver_sql(f"DROP OWNED BY {role} CASCADE")
        conn.exec_driver_sql(f"DROP ROLE {role}")
    admin.dispose()


def spelled(url: URL, spelling: str) -> str:
    """DATABASE_URL as a user types it: `%3a` not `%3A`, `!` unescaped."""
    where = f"{url.host}:{url.port}/{url.database}"
    if spelling == "query":
        return (
            f"postgresql+psycopg2://{url.username}@{where}?password={lowercase_escapes(PASSWORD)}"
        )
    return f"postgresql+psycopg2://{url.username}:{lowercase_escapes(PASSWORD)}@{where}"


def error_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, AuroraMigrationsError):
        texts.append(json.dumps(exc.to_dict()))
    return texts


def test_the_leak_check_itself_sees_every_spelling(owner_url: URL) -> None:
    """Guards the guard: the check finds the password in each form the tests feed in."""
    for spelling in SPELLINGS:
        assert leak(PASSWORD, spelled(owner_url, spelling))
    assert leak(PASSWORD, owner_url.render_as_string(hide_password=False))
    assert leak(PASSWORD, json.dumps({"m": repr(spelled(owner_url, "query").encode())}))
    assert leak(PASSWORD, "comment '" + spelled(owner_url, "query").replace("%", "%%") + "'")


def test_success_failure_and_auth_errors_never_show_the_password(
    owner_url: URL, tmp_path: Path, logs: LogCapture
) -> None:
    engine = engine_for(settings_for(owner_url))
    result = engine.run(Request("upgrade"))
    assert result.applied
    texts = [json.dumps(result.to_dict())]
    engine.run(Request("downgrade", "base", confirm="0017"))

    with pytest.raises(MigrationFailed) as failed:
        engine_for(settings_for(owner_url, "failing", tmp_path)).run(Request("upgrade"))
    texts += error_texts(failed.value)

    wrong = owner_url.set(password=PASSWORD[::-1])
    with pytest.raises(AuthenticationFailed) as refused:
        engine_for(settings_for(wrong)).run(Request("current"))
    assert "auth failed" in str(refused.value)
    texts += error_texts(refused.value)

    assert logs.records and "***" in logs.text
    assert_clean(PASSWORD, logs.text, *texts)


def test_the_scrubber_hides_a_password_that_reached_a_message(
    owner_url: URL, logs: LogCapture
) -> None:
    engine = engine_for(settings_for(owner_url))
    engine.run(Request("current"))  # registers the password
    from runner.core.logs import log_event

    log_event("diagnostic", detail=f"driver said: password {PASSWORD} rejected")
    err = AuroraMigrationsError(f"wrapped error quoting {PASSWORD}")
    assert_clean(PASSWORD, logs.text, *error_texts(err))


@pytest.fixture
def leaky_lambda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ALEMBIC_CONFIG", str(write_alembic_ini("leaky", tmp_path)))
    handler.reset_engine()
    yield
    handler.reset_engine()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_lambda_handler_never_shows_the_password(
    spelling: str,
    owner_url: URL,
    leaky_lambda: None,
    logs: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Result (SQL carrying the URL), MigrationFailed (driver echoes the DSN), InternalError."""
    monkeypatch.setenv("DATABASE_URL", spelled(owner_url, spelling))
    ctx = LambdaContext()

    sql = handler.handler({"command": "sql", "revision": "0001"}, ctx)
    with pytest.raises(MigrationFailed) as failed:
        handler.handler({"command": "upgrade"}, ctx)
    with pytest.raises(OfflineSqlUnavailable) as unrenderable:
        handler.handler({"command": "sql"}, ctx)
    monkeypatch.setenv("ALEMBIC_CONFIG", str(write_alembic_ini("crashing", tmp_path)))
    handler.reset_engine()
    with pytest.raises(InternalError) as crashed:
        handler.handler({"command": "upgrade"}, ctx)

    assert "COMMENT ON SCHEMA public" in sql["sql"] and "***" in sql["sql"]
    assert "invalid dsn" in failed.value.message
    assert "0002 cannot run" in unrenderable.value.message
    assert "RuntimeError" in crashed.value.message and "0001 cannot load" in crashed.value.message
    assert "***" in logs.events("run.start")[0]["database"]
    assert "Traceback" in logs.text  # the crash is logged with its (scrubbed) traceback
    assert_clean(
        PASSWORD,
        json.dumps(sql),
        logs.text,
        *error_texts(failed.value),
        *error_texts(unrenderable.value),
        *error_texts(crashed.value),
    )


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.adapters.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_cli_never_shows_the_password(spelling: str, owner_url: URL, tmp_path: Path) -> None:
    """Human output (Rich), --json, failures, the catch-all and --traceback: all scrubbed."""
    env = {
        "DATABASE_URL": spelled(owner_url, spelling),
        "ALEMBIC_CONFIG": str(write_alembic_ini("leaky", tmp_path)),
    }
    crashing = {**env, "ALEMBIC_CONFIG": str(write_alembic_ini("crashing", tmp_path))}
    runs = {
        "sql": cli("sql", "0001", env=env),
        "sql-json": cli("sql", "0001", "--json", env=env),
        "failed": cli("upgrade", env=env),
        "failed-json": cli("upgrade", "--json", env=env),
        "unrenderable": cli("sql", env=env),
        "crash": cli("upgrade", env=crashing),
        "crash-json": cli("upgrade", "--json", env=crashing),
        "crash-traceback": cli("upgrade", "--traceback", env=crashing),
    }

    codes = {name: done.returncode for name, done in runs.items()}
    assert codes == {"sql": 0, "sql-json": 0} | {n: 1 for n in list(runs)[2:]}, runs
    assert "COMMENT ON SCHEMA public" in runs["sql"].stdout and "***" in runs["sql"].stdout
    assert "FAILED: MigrationFailed" in runs["failed"].stderr
    assert "FAILED: OfflineSqlUnavailable" in runs["unrenderable"].stderr
    assert "FAILED: InternalError: Unexpected RuntimeError" in runs["crash"].stderr
    assert "Traceback" not in runs["crash"].stderr
    assert json.loads(runs["crash-json"].stdout)["errorType"] == "InternalError"
    assert "Traceback" in runs["crash-traceback"].stderr
    assert "0001_crash_on_load.py" in runs["crash-traceback"].stderr
    assert_clean(PASSWORD, *(text for done in runs.values() for text in (done.stdout, done.stderr)))
