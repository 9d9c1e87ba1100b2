"""CloudWatch Embedded Metric Format: one JSON line on stdout per invocation, no library.

This writes the line Powertools' `Metrics.log_metrics` wrote (the same namespace, dimension
`service`, names, units and list-of-float values; tests/perf/test_light_imports.py compares
them), without importing Powertools, whose package import (its Logger, Tracer, jmespath) cost
a cold start about 30 ms on every invocation, the no-op included.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping

COUNT = "Count"
MILLISECONDS = "Milliseconds"
MAX_METRICS = 100  # per EMF document, as CloudWatch allows


class Metrics:
    """The metrics of one invocation; `flush` prints them as one EMF line and forgets them."""

    def __init__(self, *, namespace: str, dimensions: Mapping[str, str]) -> None:
        self.namespace = namespace
        self.dimensions = dict(dimensions)
        self._values: dict[str, tuple[str, list[float]]] = {}

    def add_metric(self, *, name: str, unit: str, value: float) -> None:
        self._values.setdefault(name, (unit, []))[1].append(float(value))

    def flush(self) -> None:
        """Print the line (to `sys.stdout` as it is now: the runtime's, or a test's)."""
        items, self._values = list(self._values.items()), {}
        for start in range(0, len(items), MAX_METRICS):
            chunk = items[start : start + MAX_METRICS]
            document = {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": self.namespace,
                            "Dimensions": [list(self.dimensions)],
                            "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in chunk],
                        }
                    ],
                },
                **self.dimensions,
                **{name: values for name, (_, values) in chunk},
            }
            print(json.dumps(document, separators=(",", ":")), file=sys.stdout, flush=True)
