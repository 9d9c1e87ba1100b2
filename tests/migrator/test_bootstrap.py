"""The migrator role on real PostgreSQL: bootstrapped once, it runs every revision, and
nothing outside its schema.

Each test has its own database and role names of its own (roles are cluster-wide). The
master is either the cluster's superuser or, like Aurora's master user, a role with CREATEROLE
and CREATEDB that owns the database but is no superuser.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg2.errors
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.bootstrap import BootstrapOptions
from runner.bootstrap.script import ATTRIBUTES, for_review
from runner.core.errors import (
    BootstrapFailed,
    BootstrapRefused,
    InvalidName,
    LockWaitTimeout,
    MigrationFailed,
)
from runner.core.lock import LOCK_KEY
from runner.core.results import Request
from runner.core.settings import Settings
from runner.local.localpg import find_bindir
from tests.conftest import engine_for, settings_for
from tests.migrator.support import (
    ADMIN_PASSWORD,
    Db,
    bootstrap_as,
    connected_as,
    migrator_engine,
    migrator_url,
    unique,
)

# The history table an older runner made: its CHECK knows no 'bootstrap'.
OLD_HISTORY_TABLE = """
CREATE TABLE aurora_migrations_history (
    id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, command TEXT NOT NULL,
    revision TEXT NOT NULL, description TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('up', 'down', 'stamp')),
    duration_ms INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    request_id TEXT)
"""

OLD_CHECK = """
ALTER TABLE aurora_migrations_history DROP CONSTRAINT aurora_migrations_history_direction_check,
    ADD CONSTRAINT aurora_migrations_history_direction_check
    CHECK (direction IN ('up', 'down', 'stamp'))
"""


def project_revisions() -> list[str]:
    script = engine_for(Settings(database_url="postgresql://unused@localhost/x")).script
    return [s.revision for s in reversed(list(script.walk_revisions("base", "heads")))]


# --- what the role is ------------------------------------------------------------------------


def test_bootstrap_makes_a_role_that_owns_the_schema_and_nothing_more(db: Db, role: str) -> None:
    result = bootstrap_as(db.url, role)

    assert result.created == [
        f"role {role} ({ATTRIBUTES})",
        "table public.aurora_migrations_history",
    ]
    assert "SCHEMA public (was owned by pg_database_owner)" in result.handed_over
    assert f"search_path of {role} = public" in result.configured
    attributes = db.sql(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = :r",
        r=role,
    )
    assert attributes == [(True, False, False, False, False, False)]
    assert db.sql("SELECT 1 FROM pg_auth_members WHERE member = CAST(:r AS regrole)", r=role) == []
    assert db.schema_owner() == role
    assert set(db.owners().values()) == {role}
    assert db.bootstrap_rows() == [
        ("bootstrap-migrator", "base", "bootstrap", db.bootstrap_rows()[0][3])
    ]
    assert result.recorded == "in public.aurora_migrations_history at revision base"


def test_the_migrator_cannot_step_outside_its_schema(db: Db, role: str) -> None:
    """No CREATE ROLE, no other schema's table, no ALTER SYSTEM, no superuser, no new schema."""
    db.sql("CREATE SCHEMA vault")
    db.sql("CREATE TABLE vault.secrets (value TEXT)")
    db.sql("INSERT INTO vault.secrets VALUES ('the master made this')")
    db.sql("GRANT USAGE ON SCHEMA vault TO PUBLIC")  # so the table itself is what refuses
    bootstrap_as(db.url, role)

    with connected_as(migrator_url(db, role)) as conn:
        assert conn.exec_driver_sql("SELECT current_setting('is_superuser')").scalar() == "off"
        conn.exec_driver_sql("CREATE TABLE its_own (id INT)")  # its schema works
        for statement in (
            "CREATE ROLE intruder",
            "SELECT * FROM vault.secrets",
            "ALTER SYSTEM SET work_mem = '1MB'",
            "CREATE SCHEMA elsewhere",
            "CREATE DATABASE elsewhere",
            "CREATE TABLE vault.planted (id INT)",
        ):
            with pytest.raises(sa.exc.ProgrammingError) as denied:
                conn.exec_driver_sql(statement)
            assert isinstance(denied.value.orig, psycopg2.errors.InsufficientPrivilege), statement


def test_a_schema_of_its_own_leaves_public_alone(db: Db, role: str) -> None:
    result = bootstrap_as(db.url, role, schema="app")
    assert f"schema app, owned by {role}" in result.created

    engine = migrator_engine(db, role)
    assert engine.run(Request("upgrade")).after == ["0017"]
    assert db.has_table("dry_run_log", "app") and db.has_table("alembic_version", "app")
    assert not db.has_table("dry_run_log") and not db.has_table("alembic_version")
    assert db.bootstrap_rows("app")
    with connected_as(migrator_url(db, role)) as conn, pytest.raises(sa.exc.ProgrammingError):
        conn.exec_driver_sql("CREATE TABLE public.outside (id INT)")


def test_a_new_schema_is_refused_when_the_master_migrated_public(db: Db, role: str) -> None:
    """The migrator would not see public.alembic_version, and would apply 0017 again."""
    engine_for(settings_for(db.url)).run(Request("upgrade"))

    with pytest.raises(BootstrapRefused) as refused:
        bootstrap_as(db.url, role, schema="app")

    assert "public.alembic_version exists but app.alembic_version does not" in str(refused.value)
    assert not db.role_exists(role)


def test_public_may_no_longer_create_in_the_schema(db: Db, role: str, aurora_admin: URL) -> None:
    """A cluster born on PostgreSQL 14 or older lets PUBLIC create in public: revoked, so
    nobody else can plant objects where the migrator works."""
    db.sql("GRANT CREATE ON SCHEMA public TO PUBLIC")
    bystander = unique("bystander")
    db.sql(f"CREATE ROLE {bystander} LOGIN PASSWORD '{ADMIN_PASSWORD}'")
    try:
        result = bootstrap_as(aurora_admin, role)

        assert "CREATE ON SCHEMA public FROM PUBLIC" in result.revoked
        other = db.url.set(username=bystander, password=ADMIN_PASSWORD)
        with connected_as(other) as conn, pytest.raises(sa.exc.ProgrammingError) as denied:
            conn.exec_driver_sql("CREATE TABLE public.planted (id INT)")
        assert isinstance(denied.value.orig, psycopg2.errors.InsufficientPrivilege)
    finally:
        db.drop_role(bystander)


# --- it runs every revision ---------------------------------------------------------------------


def test_the_migrator_runs_every_project_revision_up_down_and_up(db: Db, role: str) -> None:
    bootstrap_as(db.url, role)
    engine = migrator_engine(db, role)
    everything = project_revisions()

    up = engine.run(Request("upgrade"))
    assert [a.revision for a in up.applied] == everything
    down = engine.run(Request("downgrade", "base", confirm=",".join(up.after)))
    assert [a.revision for a in down.applied] == list(reversed(everything))
    assert down.after == []
    assert engine.run(Request("upgrade")).after == up.after
    assert set(db.owners().values()) == {role}


@pytest.mark.parametrize("tree", ["chain", "branched", "failing", "slow"])
def test_the_migrator_runs_the_fixture_trees(tree: str, db: Db, role: str, tmp_path: Path) -> None:
    bootstrap_as(db.url, role)
    engine = migrator_engine(db, role, tree, tmp_path)
    heads = sorted(engine.script.get_heads())

    if tree == "failing":  # fails for its own reason, not for a missing right
        with pytest.raises(MigrationFailed) as failed:
            engine.run(Request("upgrade"))
        assert failed.value.details["revision"] == "0003"
        assert failed.value.details["state"] == ["0002"]
        assert 'relation "no_such_table" does not exist' in failed.value.message
    else:
        for head in heads:  # branched: each head in turn
            engine.run(Request("upgrade", head))
        assert engine.run(Request("current")).after == heads

    current = engine.run(Request("current")).after
    down = engine.run(Request("downgrade", "base", confirm=",".join(current)))
    assert down.after == []
    assert db.owners().keys() <= {"alembic_version", "aurora_migrations_history"} | {
        "aurora_migrations_history_id_seq",
        "ledger",
    }


# --- once, and only once ------------------------------------------------------------------------


def test_a_second_bootstrap_changes_nothing_and_says_so(db: Db, role: str) -> None:
    first = bootstrap_as(db.url, role)
    assert first.changed
    before = db.snapshot(role)

    second = bootstrap_as(db.url, role)

    assert not second.changed and second.recorded is None
    assert second.changes() == []
    assert f"password of {role} (it already logs in with the one given)" in (
        second.already_in_place
    )
    assert f"schema public is owned by {role}" in second.already_in_place
    assert "Nothing to do" in second.message
    assert db.snapshot(role) == before  # not even the password hash was rewritten
    assert len(db.bootstrap_rows()) == 1


def test_bootstrap_hands_over_what_the_master_applied(db: Db, role: str) -> None:
    """0017 applied by the master (with an older history table): bootstrap gives the role
    dry_run_log, alembic_version and the history table, and upgrades the history's CHECK."""
    db.sql(OLD_HISTORY_TABLE)
    engine_for(settings_for(db.url)).run(Request("upgrade"))
    # Today's runner brings an older table up to date as it upgrades; the master's was older.
    db.sql(OLD_CHECK)
    master = db.superuser
    assert set(db.owners().values()) == {master}

    result = bootstrap_as(db.url, role)

    assert {
        f"TABLE public.dry_run_log (was owned by {master})",
        f"TABLE public.alembic_version (was owned by {master})",
        f"TABLE public.aurora_migrations_history (was owned by {master})",
    } <= set(result.handed_over)
    assert "public.aurora_migrations_history accepts the direction 'bootstrap'" in result.configured
    assert set(db.owners().values()) == {role}
    command, revision, direction, description = db.bootstrap_rows()[0]
    assert (command, revision, direction) == ("bootstrap-migrator", "0017", "bootstrap")
    assert "TABLE public.dry_run_log" in description

    engine = migrator_engine(db, role)
    assert engine.run(Request("downgrade", "base", confirm="0017")).after == []
    assert engine.run(Request("upgrade")).after == ["0017"]


def test_a_master_that_is_not_superuser_lets_itself_act_as_the_role(
    db: Db, role: str, aurora_admin: URL
) -> None:
    """Aurora's master is no superuser: it must be able to SET ROLE to the new owner to give
    objects away, so the bootstrap grants it the role first."""
    engine_for(settings_for(aurora_admin)).run(Request("upgrade"))
    admin = str(aurora_admin.username)

    result = bootstrap_as(aurora_admin, role)

    assert f"{role} TO {admin}" in result.granted
    assert f"TABLE public.dry_run_log (was owned by {admin})" in result.handed_over
    engine = migrator_engine(db, role)
    assert engine.run(Request("downgrade", "base", confirm="0017")).after == []
    assert engine.run(Request("upgrade")).after == ["0017"]
    assert not bootstrap_as(aurora_admin, role).changed


# --- refusals and failures change nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        ("CREATE ROLE {role} LOGIN CREATEROLE", "may create roles (CREATEROLE)"),
        ("CREATE ROLE {role} LOGIN SUPERUSER", "is a superuser (SUPERUSER)"),
        ("CREATE ROLE {role} LOGIN BYPASSRLS", "bypasses row-level security"),
        ("CREATE ROLE {role} LOGIN IN ROLE pg_read_all_data", "is a member of pg_read_all_data"),
    ],
)
def test_an_existing_role_with_more_rights_is_refused(
    setup: str, problem: str, db: Db, role: str
) -> None:
    db.sql(setup.format(role=role))
    before = db.snapshot(role)

    with pytest.raises(BootstrapRefused) as refused:
        bootstrap_as(db.url, role)

    assert problem in refused.value.message and "Nothing was changed" in refused.value.message
    assert db.snapshot(role) == before
    assert db.schema_owner() == "pg_database_owner"


def test_the_master_cannot_bootstrap_itself(db: Db) -> None:
    with pytest.raises(BootstrapRefused) as refused:
        bootstrap_as(db.url, db.superuser)
    assert "is the user running this bootstrap" in refused.value.message


@pytest.mark.parametrize(
    ("role", "schema"),
    [
        ("Migrator", "public"),
        ("user", "public"),
        ("pg_migrator", "public"),
        ("rds_iam", "public"),
        ("public", "public"),
        ("migrator; DROP", "public"),
        ("migrator", "pg_catalog"),
        ("migrator", "app-data"),
    ],
)
def test_names_that_need_quoting_or_are_reserved_are_refused(role: str, schema: str) -> None:
    with pytest.raises(InvalidName):
        BootstrapOptions(role=role, schema=schema)


def test_a_failing_bootstrap_changes_nothing(db: Db, role: str, aurora_admin: URL) -> None:
    """An object the master may not give away fails the whole transaction: no role, no
    grants, the schema's owner unchanged. One transaction, no half-applied state."""
    stranger = unique("stranger")
    db.sql(f"CREATE ROLE {stranger}")
    try:
        db.sql(f"CREATE TABLE public.theirs (id INT); ALTER TABLE theirs OWNER TO {stranger}")
        before = db.snapshot(role)

        with pytest.raises(BootstrapFailed) as failed:
            bootstrap_as(aurora_admin, role)

        message = failed.value.message
        assert "must be owner of table theirs" in message
        assert "rolled back: nothing was changed" in message
        assert db.snapshot(role) == before
        assert not db.role_exists(role)
        assert not db.has_table("aurora_migrations_history")
    finally:
        db.drop_role(stranger)


def test_bootstrap_waits_for_a_running_migration(db: Db, role: str) -> None:
    """It takes the runner's migration lock: never re-owning tables under a running upgrade."""
    holder = sa.create_engine(db.url)
    try:
        with holder.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
            with pytest.raises(LockWaitTimeout):
                bootstrap_as(db.url, role, settings=Settings(lock_wait_s=0.5))
    finally:
        holder.dispose()
    assert not db.role_exists(role)


# --- how it logs in ----------------------------------------------------------------------------


def test_iam_grants_rds_iam_and_sets_no_password(db: Db, role: str, rds_iam: str) -> None:
    result = bootstrap_as(db.url, role, iam=True)

    assert f"rds_iam TO {role}" in result.granted
    assert result.login == "iam"
    assert db.scalar("SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = :r", r=role)
    assert not bootstrap_as(db.url, role, iam=True).changed


def test_iam_on_a_server_without_rds_iam_skips_the_grant_and_says_so(db: Db, role: str) -> None:
    assert not db.role_exists("rds_iam")

    result = bootstrap_as(db.url, role, iam=True)

    assert result.skipped == [
        f"rds_iam TO {role}: this server has no role rds_iam (not RDS or Aurora)"
    ]


def test_the_password_is_sent_hashed_and_changed_only_when_it_differs(db: Db, role: str) -> None:
    bootstrap_as(db.url, role)
    stored = db.scalar("SELECT rolpassword FROM pg_authid WHERE rolname = :r", r=role)
    assert stored.startswith("SCRAM-SHA-256$")
    other = "An0ther-Dist1nct!ve-pw"

    result = bootstrap_as(db.url, role, password=other)

    assert result.changes() == [
        ("configured", f"password of {role} (sent as a SCRAM verifier, never in clear)")
    ]
    assert result.recorded
    with connected_as(migrator_url(db, role, other)) as conn:
        assert conn.exec_driver_sql("SELECT current_user").scalar() == role
    with pytest.raises(sa.exc.OperationalError), connected_as(migrator_url(db, role)):
        pass


# --- the SQL for a DBA --------------------------------------------------------------------------


def psql(url: URL, sql: str) -> str:
    """Run `sql` the way a DBA would: psql, stop on the first error. Returns its messages."""
    done = subprocess.run(
        [
            str(find_bindir() / "psql"),
            "-h",
            str(url.host),
            "-p",
            str(url.port),
            "-U",
            str(url.username),
            "-d",
            str(url.database),
            "-v",
            "ON_ERROR_STOP=1",
            "-qf",
            "-",
        ],
        input=sql,
        env={"PGPASSWORD": str(url.password), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize("iam", [False, True])
def test_the_printed_sql_run_by_hand_ends_where_the_command_does(
    iam: bool, db: Db, role: str, aurora_admin: URL
) -> None:
    engine_for(settings_for(aurora_admin)).run(Request("upgrade"))
    sql = for_review(BootstrapOptions(role=role, iam=iam))

    first = psql(aurora_admin, sql)
    assert "bootstrap recorded: in public.aurora_migrations_history at revision 0017" in first
    second = psql(aurora_admin, sql)
    assert "bootstrap unchanged" in second
    assert not any(f"bootstrap {kind}:" in second for kind in ("created", "granted", "revoked"))

    result = bootstrap_as(aurora_admin, role, iam=iam)
    # By hand there is no password yet (the DBA sets it with \password); the rest is in place.
    expected = (
        []
        if iam
        else [("configured", f"password of {role} (sent as a SCRAM verifier, never in clear)")]
    )
    assert result.changes() == expected
    assert len(db.bootstrap_rows()) == (1 if iam else 2)
    assert "bootstrap unchanged" in psql(aurora_admin, sql)
