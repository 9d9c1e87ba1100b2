"""The bootstrap as SQL: one re-runnable script, run by the command and reviewed by a DBA.

The command runs `body()`, then (with a password) one `ALTER ROLE ... PASSWORD`, then
`tail()`, all in one transaction; `for_review()` wraps the same text in `BEGIN`/`COMMIT` for a
DBA to run by hand. Every step is a `DO` block that checks before it acts and reports with a
NOTICE `bootstrap <kind>: <what>`, where kind is one of `KINDS`: the command builds its result
from those lines, and a DBA sees the same lines in psql. Each change is also noted in a
transaction-local setting, so `tail()` records the run in the history only when something
changed: a second run changes nothing and records nothing. `verify` fails the whole
transaction unless the end state is exactly the wanted one.
"""

from __future__ import annotations

import textwrap

from runner.bootstrap.options import BootstrapOptions
from runner.core import history_table
from runner.core.lock import LOCK_KEY

# What a step can report. The first five are changes; the others are not.
CHANGES = ("created", "granted", "revoked", "handed_over", "configured")
KINDS = (*CHANGES, "in_place", "skipped", "verified", "recorded", "unchanged")

ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
CHANGES_SETTING = "aurora_migrate.changes"  # what this transaction changed
RUN_ID_SETTING = "aurora_migrate.run_id"  # set by the command; a DBA's run gets a fresh uuid
COMMAND = "bootstrap-migrator"
PG16 = 160000


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def note_change(what_sql: str) -> str:
    """A SQL expression that adds `what_sql` to this transaction's list of changes."""
    return (
        f"set_config('{CHANGES_SETTING}',\n"
        f"        concat_ws('; ', nullif(current_setting('{CHANGES_SETTING}', true), ''), "
        f"{what_sql}), true)"
    )


def _notice(kind: str, what_sql: str) -> str:
    assert kind in KINDS
    return f"RAISE NOTICE 'bootstrap {kind}: %', {what_sql};"


def _changed(kind: str, what_sql: str) -> str:
    """Report a change and note it for the record; the block declares `done`."""
    return (
        f"done := {what_sql};\n        {_notice(kind, 'done')}\n"
        f"        PERFORM {note_change('done')};"
    )


def _comment(text: str) -> str:
    """A numbered step's comment (body() numbers them), wrapped for reading."""
    return textwrap.fill(text, 96, initial_indent="-- #. ", subsequent_indent="--    ") + "\n"


def _do(declare: str, body: str) -> str:
    if "done :=" in body:
        declare = "\n    ".join(filter(None, [declare, "done text;"]))
    head = f"DO $bootstrap$\nDECLARE\n    {declare}\n" if declare else "DO $bootstrap$\n"
    return f"{head}BEGIN\n{body.strip(chr(10))}\nEND\n$bootstrap$;"


def _step(comment: str, kind: str, what: str, *, done: str, apply: str, in_place: str) -> str:
    """If `done` holds, report it in place; otherwise run `apply` and report the change."""
    return _comment(comment) + _do(
        "",
        f"""
    IF {done} THEN
        {_notice("in_place", in_place)}
    ELSE
        {apply};
        {_changed(kind, what)}
    END IF;""",
    )


# --- the checks shared by the guard (before) and the verification (after) -----------------


def guard_query(o: BootstrapOptions) -> str:
    """Rows of reasons to refuse: an existing role with rights a migrator must not have."""
    role = literal(o.role)
    other_roles = " AND g.rolname <> 'rds_iam'" if o.iam else ""
    moved = ""
    if o.schema != "public":  # revisions applied as the master went to public
        moved = f"""
    UNION ALL
    SELECT format('%I.%I exists but %I.%I does not: the migrator (search_path %I) would not '
                  'see what was applied', n.nspname, c.relname, {literal(o.schema)}, c.relname,
                  {literal(o.schema)})
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
       AND c.relname IN ('alembic_version', '{history_table.TABLE}')
       AND to_regclass(format('%I.%I', {literal(o.schema)}, c.relname)) IS NULL"""
    return f"""SELECT problem FROM (
    SELECT 'role ' || rolname || ' is the user running this bootstrap' AS problem
      FROM pg_catalog.pg_roles WHERE rolname = {role} AND rolname = current_user
    UNION ALL
    SELECT 'role ' || rolname || ' ' || unnest(ARRAY[
               CASE WHEN rolsuper THEN 'is a superuser (SUPERUSER)' END,
               CASE WHEN rolcreatedb THEN 'may create databases (CREATEDB)' END,
               CASE WHEN rolcreaterole THEN 'may create roles (CREATEROLE)' END,
               CASE WHEN rolreplication THEN 'may replicate (REPLICATION)' END,
               CASE WHEN rolbypassrls THEN 'bypasses row-level security (BYPASSRLS)' END])
      FROM pg_catalog.pg_roles WHERE rolname = {role}
    UNION ALL
    SELECT format('role %I is a member of %I', r.rolname, g.rolname)
      FROM pg_catalog.pg_auth_members am
      JOIN pg_catalog.pg_roles r ON r.oid = am.member
      JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
     WHERE r.rolname = {role}{other_roles}
    UNION ALL
    SELECT format('role %I owns the database %I', r.rolname, d.datname)
      FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles r ON r.oid = d.datdba
     WHERE r.rolname = {role}{moved}
) AS found WHERE problem IS NOT NULL"""


def objects_query(o: BootstrapOptions) -> str:
    """(object, owner) for what the migrator must own in the schema: tables, views,
    sequences, functions, procedures, aggregates and types. Left out, because they follow
    their parent: indexes, table row types, array types, and sequences owned by a column.
    Extension members stay with their extension."""
    schema = literal(o.schema)

    def not_in_extension(catalog: str, alias: str) -> str:
        return (
            f"NOT EXISTS (SELECT FROM pg_catalog.pg_depend d\n"
            f"                    WHERE d.classid = 'pg_catalog.{catalog}'::regclass\n"
            f"                      AND d.objid = {alias}.oid AND d.deptype = 'e')"
        )

    return f"""SELECT format('%s %I.%I', CASE c.relkind WHEN 'v' THEN 'VIEW'
                                        WHEN 'm' THEN 'MATERIALIZED VIEW'
                                        WHEN 'f' THEN 'FOREIGN TABLE'
                                        WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
              n.nspname, c.relname) AS object, c.relowner AS owner
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = {schema} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
           AND {not_in_extension("pg_class", "c")}
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('a', 'i')))
        UNION ALL
        SELECT format('%s %I.%I(%s)', CASE p.prokind WHEN 'p' THEN 'PROCEDURE'
                                      WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
              n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)),
              p.proowner
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = {schema}
           AND {not_in_extension("pg_proc", "p")}
        UNION ALL
        SELECT format('%s %I.%I', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
              n.nspname, t.typname), t.typowner
          FROM pg_catalog.pg_type t
          JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname = {schema} AND t.typtype IN ('b', 'c', 'd', 'e', 'r')
           AND (t.typrelid = 0 OR EXISTS (SELECT FROM pg_catalog.pg_class r
                                          WHERE r.oid = t.typrelid AND r.relkind = 'c'))
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_type a WHERE a.typarray = t.oid)
           AND {not_in_extension("pg_type", "t")}"""


def _public_may_create(schema_sql: str) -> str:
    return (
        "SELECT FROM pg_catalog.pg_namespace n,\n"
        "                   aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a\n"
        f"             WHERE n.nspname = {schema_sql} AND a.grantee = 0\n"
        "               AND a.privilege_type = 'CREATE'"
    )


def _schemas(o: BootstrapOptions) -> list[str]:
    """The schemas where PUBLIC must not create: the migrator's, and public (outside it)."""
    return list(dict.fromkeys(["public", o.schema]))


# --- the script --------------------------------------------------------------------------------


def body(o: BootstrapOptions) -> str:
    """Every step, in order; run inside one transaction."""
    role, schema = o.role, o.schema
    r, s = literal(role), literal(schema)
    history = f"{schema}.{history_table.TABLE}"
    all_owned = (
        f"every table, view, sequence, function and type in schema {schema} is owned by {role}"
    )
    steps = [
        f"SET LOCAL search_path = {schema};\nSET LOCAL client_min_messages = notice;",
        _comment("Refuse an existing role with rights a migrator must not have.")
        + _do(
            "problems text;",
            f"""
    SELECT string_agg(problem, '; ') INTO problems FROM (
{_indent(guard_query(o), 8)}
    ) AS refused;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'bootstrap refused: %', problems
            USING HINT = 'A migrator must have none of these; remove them, then run again.';
    END IF;""",
        ),
        _comment(f"The role: it may log in, and nothing more ({ATTRIBUTES}).")
        + _do(
            "",
            f"""
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {r}) THEN
        CREATE ROLE {role} {ATTRIBUTES};
        {_changed("created", literal(f"role {role} ({ATTRIBUTES})"))}
    ELSIF NOT (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = {r}) THEN
        ALTER ROLE {role} LOGIN;
        {_changed("configured", literal(f"role {role} may log in (LOGIN)"))}
    ELSE
        {_notice("in_place", literal(f"role {role} ({ATTRIBUTES})"))}
    END IF;""",
        ),
        _step(
            "It may connect to this database (PUBLIC usually may already).",
            "granted",
            f"format('CONNECT ON DATABASE %I TO {role}', current_database())",
            done=f"has_database_privilege({r}, current_database(), 'CONNECT')",
            apply=f"EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database())",
            in_place=f"format('{role} may connect to database %I', current_database())",
        ),
    ]
    if o.iam:
        no_rds_iam = f"rds_iam TO {role}: this server has no role rds_iam (not RDS or Aurora)"
        steps.append(
            _comment("IAM database authentication: tokens instead of a password.")
            + _do(
                "",
                f"""
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'rds_iam') THEN
        {_notice("skipped", literal(no_rds_iam))}
    ELSIF pg_has_role({r}, 'rds_iam', 'MEMBER') THEN
        {_notice("in_place", literal(f"rds_iam TO {role}"))}
    ELSE
        GRANT rds_iam TO {role};
        {_changed("granted", literal(f"rds_iam TO {role}"))}
    END IF;""",
            )
        )
    steps += [
        _step(
            "The user running this may act as the role, to hand objects to it (on Aurora "
            "the master user is not a superuser; from PostgreSQL 16 that needs the SET option).",
            "granted",
            f"format('{role} TO %I', current_user)",
            done=f"pg_has_role(current_user, {r}, CASE WHEN\n"
            f"            current_setting('server_version_num')::int >= {PG16}\n"
            "            THEN 'SET' ELSE 'MEMBER' END)",
            apply=f"GRANT {role} TO CURRENT_USER",
            in_place=f"format('%I may act as {role}', current_user)",
        ),
        _step(
            "The schema.",
            "created",
            literal(f"schema {schema}, owned by {role}"),
            done=f"EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = {s})",
            apply=f"CREATE SCHEMA {schema} AUTHORIZATION {role}",
            in_place=literal(f"schema {schema} exists"),
        ),
        *(
            _step(
                f"Nobody else creates objects in schema {name} (PostgreSQL 14 and older "
                "let PUBLIC create in public).",
                "revoked",
                literal(f"CREATE ON SCHEMA {name} FROM PUBLIC"),
                done=f"NOT EXISTS ({_public_may_create(literal(name))})",
                apply=f"REVOKE CREATE ON SCHEMA {name} FROM PUBLIC",
                in_place=literal(f"PUBLIC may not create in schema {name}"),
            )
            for name in _schemas(o)
        ),
        _comment("The role owns the schema.")
        + _do(
            "was text;",
            f"""
    SELECT pg_catalog.pg_get_userbyid(nspowner) INTO was
      FROM pg_catalog.pg_namespace WHERE nspname = {s};
    IF was = {r} THEN
        {_notice("in_place", literal(f"schema {schema} is owned by {role}"))}
    ELSE
        ALTER SCHEMA {schema} OWNER TO {role};
        {_changed("handed_over", f"format('SCHEMA {schema} (was owned by %I)', was)")}
    END IF;""",
        ),
        _step(
            f"Unqualified names (alembic_version, new tables) resolve to schema {schema}.",
            "configured",
            literal(f"search_path of {role} = {schema}"),
            done=f"EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {r}\n"
            f"                  AND rolconfig @> ARRAY[{literal(f'search_path={schema}')}])",
            apply=f"ALTER ROLE {role} SET search_path = {schema}",
            in_place=literal(f"search_path of {role} = {schema}"),
        ),
        _comment(f"The runner's history table, which also records this bootstrap ({COMMAND}).")
        + _do(
            "",
            f"""
    IF to_regclass({literal(f"{schema}.{history_table.TABLE}")}) IS NULL THEN
{_indent(history_table.CREATE.strip(), 8)};
        {_changed("created", literal(f"table {history}"))}
    ELSIF NOT EXISTS (
        SELECT FROM pg_catalog.pg_constraint
         WHERE conrelid = to_regclass({literal(f"{schema}.{history_table.TABLE}")})
           AND conname = '{history_table.DIRECTION_CHECK}'
           AND pg_catalog.pg_get_constraintdef(oid) LIKE '%''bootstrap''%'
    ) THEN
        {history_table.ALLOW_ALL_DIRECTIONS};
        {_changed("configured", literal(f"{history} accepts the direction 'bootstrap'"))}
    ELSE
        {_notice("in_place", literal(f"table {history}"))}
    END IF;""",
        ),
        _comment(
            f"Hand every existing object in schema {schema} to the role, so later revisions "
            "can alter it."
        )
        + _do(
            "item record;",
            f"""
    FOR item IN
        SELECT object, pg_catalog.pg_get_userbyid(owner) AS was FROM (
{_indent(objects_query(o), 8)}
        ) AS objects
         WHERE owner <> {r}::regrole
         ORDER BY object
    LOOP
        EXECUTE format('ALTER %s OWNER TO {role}', item.object);
        {_changed("handed_over", "format('%s (was owned by %I)', item.object, item.was)")}
    END LOOP;
    IF NOT FOUND THEN
        {_notice("in_place", literal(all_owned))}
    END IF;""",
        ),
        _comment("Check the end state; any gap fails the whole transaction.") + verify(o),
    ]
    numbered = [step.replace("-- #.", f"-- {n}.", 1) for n, step in enumerate(steps)]
    return "\n\n".join(numbered) + "\n"


def verify(o: BootstrapOptions) -> str:
    role = o.role
    r, s = literal(role), literal(o.schema)
    rds_iam = ""
    if o.iam:
        rds_iam = f"""
        UNION ALL
        SELECT {literal(f"role {role} is not a member of rds_iam")}
         WHERE CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'rds_iam')
                    THEN NOT pg_has_role({r}, 'rds_iam', 'MEMBER') ELSE false END"""
    creators = ", ".join(literal(name) for name in _schemas(o))
    return _do(
        "problems text;",
        f"""
    SELECT string_agg(problem, '; ') INTO problems FROM (
{_indent(guard_query(o), 8)}
        UNION ALL
        SELECT {literal(f"role {role} cannot log in")}
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {r} AND rolcanlogin)
        UNION ALL
        SELECT {literal(f"schema {o.schema} is not owned by {role}")}
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_namespace
                            WHERE nspname = {s} AND nspowner = {r}::regrole)
        UNION ALL
        SELECT format('PUBLIC may create in schema %I', n.nspname)
          FROM pg_catalog.pg_namespace n,
               aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
         WHERE n.nspname IN ({creators}) AND a.grantee = 0 AND a.privilege_type = 'CREATE'
        UNION ALL
        SELECT format('%s is owned by %I, not {role}', object, pg_catalog.pg_get_userbyid(owner))
          FROM (
{_indent(objects_query(o), 12)}
          ) AS objects
         WHERE owner <> {r}::regrole
        UNION ALL
        SELECT {literal(f"search_path of {role} is not {o.schema}")}
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {r}
                            AND rolconfig @> ARRAY[{literal(f"search_path={o.schema}")}]){rds_iam}
    ) AS incomplete;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'bootstrap incomplete: %', problems
            USING HINT = 'Nothing is committed. Fix what is named, then run again.';
    END IF;
    {_notice("verified", literal(f"role {role} owns schema {o.schema} and nothing more"))}""",
    )


def tail(o: BootstrapOptions) -> str:
    """Record the run in the history table, but only if this transaction changed something."""
    schema = o.schema
    table = f"{schema}.{history_table.TABLE}"
    return (
        f"-- Last: record this run in {table}, only if it changed something.\n"
        + _do(
            f"""changes text := nullif(current_setting('{CHANGES_SETTING}', true), '');
    revision text := 'base';""",
            f"""
    IF changes IS NULL THEN
        {_notice("unchanged", literal("everything was already in place; nothing recorded"))}
        RETURN;
    END IF;
    IF to_regclass({literal(f"{schema}.alembic_version")}) IS NOT NULL THEN
        EXECUTE 'SELECT coalesce(string_agg(version_num, '','' ORDER BY version_num), ''base'')'
                ' FROM {schema}.alembic_version' INTO revision;
    END IF;
    INSERT INTO {table} (run_id, command, revision, description, direction, duration_ms)
    VALUES (coalesce(nullif(current_setting('{RUN_ID_SETTING}', true), ''),
                     gen_random_uuid()::text),
            '{COMMAND}', revision, {literal(f"role {o.role}, schema {schema}: ")} || changes,
            'bootstrap', (extract(epoch FROM clock_timestamp() - now()) * 1000)::int);
    {_notice("recorded", f"format('in {table} at revision %s', revision)")}""",
        )
        + "\n"
    )


def password_note(o: BootstrapOptions) -> str:
    if o.iam:
        return (
            f"-- No password: {o.role} logs in with IAM tokens (rds_iam). RDS lets a member of "
            "rds_iam log in only with a token.\n"
        )
    return (
        f"-- Password: the command sets it here from its environment, hashed (SCRAM) before it "
        f"is sent.\n-- By hand: after COMMIT, run `\\password {o.role}` in psql, which hashes "
        "it locally too.\n-- Never type a password into SQL: the server may log the statement.\n"
    )


def for_review(o: BootstrapOptions) -> str:
    """The whole script for a DBA: review it, then run it as the master user."""
    flags = f"--role {o.role} --schema {o.schema}" + (" --iam" if o.iam else "")
    return f"""-- aurora-migrate bootstrap-migrator --print-sql {flags}
-- The migrator role {o.role}: owns schema {o.schema}, {o.login}.
-- Run it as the cluster's master user: psql -v ON_ERROR_STOP=1 -f bootstrap-migrator.sql
-- Every step checks before it acts and says what it did (NOTICE: bootstrap <kind>: <what>).
-- Re-runnable: a second run changes nothing and records nothing.
BEGIN;
SET LOCAL lock_timeout = '10s';
-- Wait for a running migration to finish, and keep new ones out (the runner's lock).
SELECT pg_advisory_xact_lock({LOCK_KEY});

{body(o)}
{password_note(o)}
{tail(o)}
COMMIT;
"""


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else line for line in text.splitlines())
