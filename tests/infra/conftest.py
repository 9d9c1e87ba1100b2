"""Test set-up for the infra tests: import paths, the `bundling` marker, synthesized apps.

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

from infra_testkit import CONTEXTS, Synthesized, synthesize  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "bundling: synthesizes the runner asset with real local bundling (slow; needs "
        "runner.bundle.build.build_bundle)",
    )


@pytest.fixture(scope="session", params=list(CONTEXTS))
def synthesized(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Synthesized:
    """Each environment of `CONTEXTS`, synthesized once per session with bundling skipped."""
    name: str = request.param
    return synthesize(name, tmp_path_factory.mktemp(name))
