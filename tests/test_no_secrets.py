"""No password ever appears in a log line, a result, an error message or a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.errors import AuroraMigrationsError, AuthenticationFailed, MigrationFailed
from runner.results import Request
from tests.conftest import LogCapture, engine_for, settings_for, write_alembic_ini

PASSWORD = "Dist1nct!ve-P@ss:w0rd/%zq"


def forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]]


def assert_clean(*texts: str) -> None:
    for text in texts:
        for form in forms(PASSWORD):
            assert form not in text, (
                f"secret leaked: ...{text[max(0, text.find(form) - 80) :][:200]}"
            )


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


def error_texts(exc: AuroraMigrationsError) -> list[str]:
    return [
        str(exc),
        json.dumps(exc.to_dict()),
        "".join(traceback.format_exception(exc)),
    ]


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

    full_url = owner_url.render_as_string(hide_password=False)
    assert any(form in full_url for form in forms(PASSWORD))  # the check can fail
    assert logs.records and "***" in logs.text
    assert_clean(logs.text, *texts)


def test_the_scrubber_hides_a_password_that_reached_a_message(
    owner_url: URL, logs: LogCapture
) -> None:
    engine = engine_for(settings_for(owner_url))
    engine.run(Request("current"))  # registers the password
    from runner.logs import log_event

    log_event("diagnostic", detail=f"driver said: password {PASSWORD} rejected")
    err = AuroraMigrationsError(f"wrapped error quoting {PASSWORD}")
    assert_clean(logs.text, *error_texts(err))


def test_cli_output_never_shows_the_password(owner_url: URL, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": owner_url.render_as_string(hide_password=False)}
    outputs = []
    for args in (["upgrade"], ["history", "--json"], ["current"], ["downgrade", "base"]):
        done = subprocess.run(
            [sys.executable, "-m", "runner.cli", *args], env=env, capture_output=True, text=True
        )
        outputs += [done.stdout, done.stderr]
    failing = {**env, "ALEMBIC_CONFIG": str(write_alembic_ini("failing", tmp_path))}
    done = subprocess.run(
        [sys.executable, "-m", "runner.cli", "upgrade", "--json"],
        env=failing,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    outputs += [done.stdout, done.stderr]
    assert any("***" in text for text in outputs)
    assert_clean(*outputs)
