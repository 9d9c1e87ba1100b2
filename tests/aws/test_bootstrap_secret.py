"""bootstrap-migrator with the master secret (moto), then the runner as the migrator with IAM.

The production-shaped path: the master's secret is read once, for the bootstrap only, over
verify-full TLS; afterwards the runner logs in as the migrator with IAM tokens and no secret.
The test cluster lets members of rds_iam in over TLS without a password, as RDS does after
checking the token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from runner.aws import aws_credential_source
from runner.bootstrap import BootstrapOptions, bootstrap
from runner.bootstrap.admin import admin_credentials
from runner.core.engine import MigrationEngine
from runner.core.results import Request
from runner.core.settings import Settings
from tests.aws.conftest import Aws, CallCounter, TlsDatabase, _admin


def test_master_secret_for_the_bootstrap_then_iam_for_the_runner(
    aws: Aws,
    secrets_client: Any,
    count_reads: Callable[[Any], CallCounter],
    tls_db: TlsDatabase,
) -> None:
    # The database's owner plays Aurora's master user: CREATEROLE, no superuser.
    _admin(tls_db.pg.server, f'ALTER ROLE "{tls_db.user}" CREATEROLE')
    arn = aws.create_secret(tls_db.secret_value())
    role = f"migrator_{uuid.uuid4().hex[:8]}"
    tls_db.iam_users.append(role)  # dropped with the test database
    settings = Settings(ssl_root_cert=str(tls_db.pg.ca_file))
    reads = count_reads(secrets_client)

    admin = admin_credentials(
        settings, secret_arn=arn, url_variable="UNUSED", environ={}, secrets_client=secrets_client
    )
    result = bootstrap(BootstrapOptions(role=role, iam=True), admin, settings)

    assert reads.count == 1
    assert admin.connect_args()["sslmode"] == "verify-full"
    assert (result.admin, result.login) == (tls_db.user, "iam")
    assert f"rds_iam TO {role}" in result.granted
    assert f"{role} TO {tls_db.user}" in result.granted

    runner = Settings(
        iam_auth=True,
        db_host="localhost",
        db_port=tls_db.pg.port,
        db_name=tls_db.dbname,
        db_user=role,
        ssl_root_cert=str(tls_db.pg.ca_file),
    )
    engine = MigrationEngine(runner, aws_credential_source(runner, rds_client=aws.client("rds")))
    assert engine.run(Request("upgrade")).after == ["0017"]
    assert engine.run(Request("downgrade", "base", confirm="0017")).after == []
