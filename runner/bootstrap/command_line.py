"""`aurora-migrate bootstrap-migrator`: argv in, the core's result out (table or JSON).

`--print-sql` connects to nothing and needs no credentials. Otherwise `--confirm` must name
the role, checked before any credential is read, and the passwords come only from the
environment (see `admin`): a password on the command line would reach the shell history.
"""

from __future__ import annotations

import argparse
import json
import os
import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from runner.bootstrap.admin import admin_credentials
from runner.bootstrap.options import (
    ADMIN_URL_VARIABLE,
    DEFAULT_ROLE,
    DEFAULT_SCHEMA,
    MIN_PASSWORD_LENGTH,
    PASSWORD_VARIABLE,
    BootstrapOptions,
)
from runner.bootstrap.result import LISTS, BootstrapResult
from runner.bootstrap.run import bootstrap
from runner.bootstrap.script import COMMAND, for_review
from runner.core import redact
from runner.core.errors import (
    ConfigurationError,
    ConfirmationRequired,
    InvalidFieldType,
    UnknownField,
)
from runner.core.settings import Settings

__all__ = ["COMMAND", "add_parser", "render", "run"]

_REFUSED_OPTIONS = {
    "--admin-url": f"Put the master URL in {ADMIN_URL_VARIABLE} (or the variable named by "
    "--admin-url-env), or pass --admin-secret-arn.",
    "--password": f"Put the role's password in {PASSWORD_VARIABLE} (or the variable named by "
    "--password-env).",
}
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_LABELS = {
    "created": "created",
    "granted": "granted",
    "revoked": "revoked",
    "handed_over": "handed over",
    "configured": "configured",
    "already_in_place": "already in place",
    "skipped": "skipped",
}


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    cmd = sub.add_parser(
        COMMAND,
        parents=[common],
        allow_abbrev=False,  # `--admin-url <URL>` must not pass for `--admin-url-env`
        help="create the migrator role the runner logs in as (once, with master credentials)",
        description="Create (once) the least-privileged role the runner migrates as: it owns "
        "the schema and nothing else. Master credentials come from "
        f"${ADMIN_URL_VARIABLE} or --admin-secret-arn, never from the command line.",
    )
    cmd.add_argument("--role", default=DEFAULT_ROLE, help=f"the role (default {DEFAULT_ROLE})")
    cmd.add_argument(
        "--schema", default=DEFAULT_SCHEMA, help=f"the schema it owns (default {DEFAULT_SCHEMA})"
    )
    cmd.add_argument(
        "--iam", action="store_true", help="IAM authentication: GRANT rds_iam, no password"
    )
    cmd.add_argument("--confirm", metavar="ROLE", help="the role's name, to confirm")
    cmd.add_argument(
        "--print-sql",
        action="store_true",
        help="print the SQL for a DBA to review and run by hand; connects to nothing",
    )
    cmd.add_argument(
        "--admin-secret-arn", metavar="ARN", help="the master secret, read once for this call"
    )
    cmd.add_argument(
        "--admin-url-env",
        metavar="NAME",
        default=ADMIN_URL_VARIABLE,
        help=f"environment variable with the master URL (default {ADMIN_URL_VARIABLE})",
    )
    for refused in _REFUSED_OPTIONS:  # recognised only to refuse them without echoing the value
        cmd.add_argument(refused, dest=_dest(refused), metavar="VALUE", help=argparse.SUPPRESS)
    cmd.add_argument(
        "--password-env",
        metavar="NAME",
        default=PASSWORD_VARIABLE,
        help=f"environment variable with the role's password (default {PASSWORD_VARIABLE})",
    )


def run(args: argparse.Namespace, out: Console) -> int:
    for refused, instead in _REFUSED_OPTIONS.items():
        if getattr(args, _dest(refused)) is not None:
            raise UnknownField(
                f"{refused} is refused: a secret on the command line lands in the shell history "
                f"and the process list. {instead} Nothing was changed.",
                field=refused,
            )
    options = BootstrapOptions(role=args.role, schema=args.schema, iam=args.iam)
    if args.print_sql:
        sql = for_review(options)
        if args.json:
            print(json.dumps({"ok": True, "command": COMMAND, "sql": sql}, indent=2))
        else:
            out.out(sql, end="", highlight=False)
        return 0
    if args.confirm != options.role:
        got = "no --confirm" if args.confirm is None else f"--confirm {args.confirm}"
        raise ConfirmationRequired(
            f"{COMMAND} creates a role and hands it schema {options.schema}; it was refused "
            f"({got}). To proceed, repeat it with --confirm {options.role}. Nothing was changed.",
            role=options.role,
        )
    for variable in (args.admin_url_env, args.password_env):
        _check_variable_name(variable)
    password = None if options.iam else _password(args.password_env)
    settings = Settings.from_env()
    admin = admin_credentials(
        settings,
        secret_arn=args.admin_secret_arn,
        url_variable=args.admin_url_env,
        environ=os.environ,
    )
    result = bootstrap(options, admin, settings, password=password)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        render(out, result)
    return 0


def _dest(option: str) -> str:
    return "refused_" + option.lstrip("-").replace("-", "_")


def _check_variable_name(name: str) -> None:
    """A name, not a value: a URL or password given here would be echoed in messages."""
    if not _VARIABLE_NAME.match(name):
        raise InvalidFieldType(
            "--admin-url-env and --password-env take the NAME of an environment variable "
            "(e.g. BOOTSTRAP_DATABASE_URL), not its value. Put the value in the environment "
            "instead; nothing was changed."
        )


def _password(variable: str) -> str:
    password = os.environ.get(variable, "")
    redact.register(password)
    if len(password) < MIN_PASSWORD_LENGTH:
        problem = "is not set" if not password else "is too short"
        raise ConfigurationError(
            f"{variable} {problem}: without --iam the role logs in with the password in "
            f"{variable} (at least {MIN_PASSWORD_LENGTH} characters). Set it, or bootstrap "
            "with --iam for IAM authentication. Nothing was changed.",
            variable=variable,
        )
    return password


def render(out: Console, result: BootstrapResult) -> None:
    login = "IAM authentication" if result.login == "iam" else "password authentication"
    out.print(f"[bold]{COMMAND}[/] on {result.database} as {result.admin}", highlight=False)
    out.print(f"role {result.role}, schema {result.schema}, {login}", highlight=False)
    table = Table("", "what")
    for name in LISTS.values():
        for what in getattr(result, name):
            table.add_row(_LABELS[name], Text(what))
    out.print(table)
    if result.recorded:
        out.print(Text(f"recorded {result.recorded} (run {result.run_id})"))
    out.print(Text(result.message))
    out.print(f"took {result.duration_ms} ms", highlight=False)
