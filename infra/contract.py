"""Names the runner and the infrastructure must agree on, kept in one place.

The runner reads these environment variables (see `runner/settings.py`) and publishes these
EMF metrics through Powertools; the stack sets the former and the dashboard and alarms read the
latter. Change both sides together.
"""

from __future__ import annotations

from typing import Final

HANDLER: Final = "runner.handler.handler"

SERVICE_NAME: Final = "aurora-migrations"
METRICS_NAMESPACE: Final = "AuroraMigrations"
# Powertools adds the dimension `service=<POWERTOOLS_SERVICE_NAME>` to every metric it publishes.
METRIC_DIMENSIONS: Final = {"service": SERVICE_NAME}

METRIC_REVISIONS_APPLIED: Final = "RevisionsApplied"  # unit Count
METRIC_MIGRATION_FAILURES: Final = "MigrationFailures"  # unit Count
METRIC_LOCK_WAIT_MS: Final = "LockWaitMs"  # unit Milliseconds

ENV_SECRET_ARN: Final = "DB_SECRET_ARN"
ENV_SSL_MODE: Final = "DB_SSL_MODE"
ENV_IAM_AUTH: Final = "DB_IAM_AUTH"
ENV_DB_USER: Final = "DB_USER"
ENV_DB_HOST: Final = "DB_HOST"
ENV_DB_PORT: Final = "DB_PORT"
ENV_DB_NAME: Final = "DB_NAME"
# boto3's own (not the runner's): the Secrets Manager endpoint to call instead of the regional
# name, set when the runner's endpoint has no private DNS.
ENV_SECRETS_MANAGER_ENDPOINT_URL: Final = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
ENV_TIME_GUARD_MARGIN_MS: Final = "MIGRATION_TIME_GUARD_MARGIN_MS"
ENV_POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"

SSL_MODE: Final = "verify-full"
