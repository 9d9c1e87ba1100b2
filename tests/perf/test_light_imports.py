"""The handler imports neither Powertools nor the engine's libraries, and writes the same lines.

Powertools' package import cost every cold start ~30 ms, so the handler writes its EMF line
(`runner.adapters.emf`) and its JSON log lines (`runner.core.logs`) itself. The alarms read the
EMF line and people read the log lines: both must stay exactly what Powertools wrote.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from contextlib import redirect_stdout
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from runner.adapters import emf
from runner.core import contract
from runner.core.logs import _JsonFormatter, fit_line
from runner.core.redact import scrub
from tests.conftest import REPO

HEAVY = ("aws_lambda_powertools", "sqlalchemy", "alembic", "boto3", "botocore")


def test_importing_the_handler_loads_none_of_the_heavy_libraries() -> None:
    probe = (
        "import sys, json; import runner.adapters.handler; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert not loaded & set(HEAVY), f"importing the handler loads {loaded & set(HEAVY)}"


def without_timestamp(line: str) -> Any:
    document = json.loads(line)
    del document["_aws"]["Timestamp"]
    return document


def test_the_emf_line_is_the_one_powertools_wrote() -> None:
    theirs = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
    ours = emf.Metrics(namespace=contract.METRICS_NAMESPACE, dimensions=contract.METRIC_DIMENSIONS)
    added = [
        (contract.METRIC_MIGRATION_FAILURES, "Count", 0),
        (contract.METRIC_REQUESTS_REFUSED, "Count", 1),
        (contract.METRIC_REVISIONS_APPLIED, "Count", 3),
        (contract.METRIC_LOCK_WAIT_MS, "Milliseconds", 12),
        (contract.METRIC_REVISIONS_APPLIED, "Count", 2),  # twice: a list of two values
    ]
    for name, unit, value in added:
        theirs.add_metric(name=name, unit=MetricUnit(unit), value=value)
        ours.add_metric(name=name, unit=unit, value=value)
    out = io.StringIO()
    with redirect_stdout(out):
        theirs.flush_metrics()
        ours.flush()
        ours.flush()  # nothing left: no line
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert without_timestamp(lines[1]) == without_timestamp(lines[0])
    assert list(json.loads(lines[1])) == list(json.loads(lines[0]))  # the same key order


def record(msg: Any, *args: Any, exc: bool = False, **extra: Any) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    made = logging.getLogger("aurora_migrations").makeRecord(
        "aurora_migrations", logging.WARNING, __file__, 42, msg, args, exc_info, "f", extra
    )
    made.service = contract.SERVICE_NAME
    return made


@pytest.mark.parametrize(
    "made",
    [
        record("run.start", event="run.start", run_id="r", command="upgrade", before=["0001"]),
        record("value %s of %d", "x", 3),
        record('{"a": 1}'),
        record("12"),
        record({"a": "dict"}),
        record("failed", exc=True, event="run.crashed", request_id="abc"),
        record("odd", when=object(), none=None, unicode="é ✓"),
    ],
    ids=["event", "args", "json", "number", "dict", "exception", "odd values"],
)
def test_the_log_line_is_the_one_powertools_wrote(
    made: logging.LogRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-abc;Parent=2;Sampled=1")
    theirs = fit_line(scrub(LambdaPowertoolsFormatter(utc=True).format(made)))
    ours = _JsonFormatter().format(made)
    assert ours == theirs
