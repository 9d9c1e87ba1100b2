"""Test set-up for the infra tests: import paths and the `bundling` marker.

`infra` is not an installed package, so the repo root goes on sys.path; the shared helpers
live in `infra_testkit.py` next to this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE.parents[1], HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "bundling: synthesizes the runner asset with real local bundling (slow; needs "
        "runner.bundle.build_bundle)",
    )
