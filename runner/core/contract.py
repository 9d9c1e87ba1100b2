"""Names the runner and the CDK stack must agree on, kept in this one module.

The stack (`infra/`) sets these environment variables on the function and the runner reads
them (`runner/core/settings.py`, boto3, Powertools); the handler publishes these metrics and the
stack's alarms and dashboard read them. Both sides import the names from here, and
`tests/infra/test_contract_*.py` feed one side's output to the other side.
"""

from __future__ import annotations

from typing import Final

HANDLER: Final = "runner.adapters.handler.handler"

SERVICE_NAME: Final = "aurora-migrations"

# Metrics: CloudWatch Embedded Metric Format lines (`runner.adapters.emf`, the lines Powertools
# wrote), with the dimension `service=<SERVICE_NAME>` on every metric. An alarm matches a
# metric only with exactly this namespace, name and set of dimensions.
METRICS_NAMESPACE: Final = "AuroraMigrations"
METRIC_DIMENSIONS: Final = {"service": SERVICE_NAME}
METRIC_REVISIONS_APPLIED: Final = "RevisionsApplied"  # Count, every invocation
METRIC_MIGRATION_FAILURES: Final = "MigrationFailures"  # Count: 1 for a run that failed
METRIC_REQUESTS_REFUSED: Final = "RequestsRefused"  # Count: 1 for a refused request
METRIC_LOCK_WAIT_MS: Final = "LockWaitMs"  # Milliseconds, mutating runs
METRIC_SCHEMA_DRIFT: Final = "SchemaDrift"  # Count: objects that differ, `drift` runs

# Environment variables the runner reads (`runner.core.settings.ENVIRONMENT` says what each does).
ENV_DATABASE_URL: Final = "DATABASE_URL"
ENV_DB_SECRET_ARN: Final = "DB_SECRET_ARN"
ENV_DB_HOST: Final = "DB_HOST"
ENV_DB_PORT: Final = "DB_PORT"
ENV_DB_NAME: Final = "DB_NAME"
ENV_DB_USER: Final = "DB_USER"
ENV_DB_IAM_AUTH: Final = "DB_IAM_AUTH"
ENV_DB_SSL_MODE: Final = "DB_SSL_MODE"
ENV_DB_SSL_ROOT_CERT: Final = "DB_SSL_ROOT_CERT"
ENV_DB_CONNECT_TIMEOUT_SECONDS: Final = "DB_CONNECT_TIMEOUT_SECONDS"
ENV_MIGRATION_LOCK_WAIT_SECONDS: Final = "MIGRATION_LOCK_WAIT_SECONDS"
ENV_MIGRATION_LOCK_TIMEOUT_MS: Final = "MIGRATION_LOCK_TIMEOUT_MS"
ENV_MIGRATION_LOCK_RETRIES: Final = "MIGRATION_LOCK_RETRIES"
ENV_MIGRATION_LOCK_RETRY_MAX_SECONDS: Final = "MIGRATION_LOCK_RETRY_MAX_SECONDS"
ENV_MIGRATION_STATEMENT_TIMEOUT_MS: Final = "MIGRATION_STATEMENT_TIMEOUT_MS"
ENV_MIGRATION_TIME_GUARD_MARGIN_MS: Final = "MIGRATION_TIME_GUARD_MARGIN_MS"
ENV_ALEMBIC_CONFIG: Final = "ALEMBIC_CONFIG"
ENV_AURORA_MIGRATE_DEVDB_DIR: Final = "AURORA_MIGRATE_DEVDB_DIR"

# Environment variables the runner's libraries read, which the stack sets.
ENV_POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
# boto3's: the Secrets Manager endpoint to call instead of the regional name, set when the
# runner's endpoint has no private DNS.
ENV_AWS_ENDPOINT_URL_SECRETS_MANAGER: Final = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
