"""Synth is offline only when asset bundling is skipped, and the README's command for it works.

Bundling the runner's code asset runs pip for the Lambda platform's wheels, so a plain synth
needs PyPI. `python infra/app.py -c env=dev -c aws:cdk:bundling-stacks=[]` skips it and
synthesizes every template with no network at all: proved here in a network namespace with
no interface up (`unshare -n`), next to the plain synth failing there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.context_args import context_from_args
from infra.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]
OFFLINE_SYNTH = ["-c", "env=dev", "-c", "aws:cdk:bundling-stacks=[]"]  # as in the README


def test_bundling_stacks_is_a_json_list_on_the_command_line() -> None:
    assert context_from_args(["-c", "aws:cdk:bundling-stacks=[]"]) == {
        "aws:cdk:bundling-stacks": []
    }
    assert context_from_args(['--context=aws:cdk:bundling-stacks=["*-Runner"]']) == {
        "aws:cdk:bundling-stacks": ["*-Runner"]
    }


@pytest.mark.parametrize("value", ["none", "{}", "[1]", ""])
def test_a_bundling_stacks_value_that_is_no_list_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="JSON list of stack names"):
        context_from_args(["-c", f"aws:cdk:bundling-stacks={value}"])


def offline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python infra/app.py ARGS` with no network, and no local package index either."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode:
        if os.environ.get("CI"):
            pytest.fail("CI must prove the offline synth, but `unshare -n` is not available")
        pytest.skip("needs `unshare -n` (root, or user namespaces) to take the network away")
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "PIP_CONFIG_FILE": os.devnull,  # no find-links or file:// index to fall back on
        "PIP_RETRIES": "0",
    }
    return subprocess.run(
        ["unshare", "-n", sys.executable, "infra/app.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_synth_without_bundling_needs_no_network(tmp_path: Path) -> None:
    done = offline(tmp_path / "out", *OFFLINE_SYNTH)
    assert done.returncode == 0, done.stderr[-3000:]
    templates = sorted(p.name for p in (tmp_path / "out").glob("*.template.json"))
    assert templates == [
        "AuroraMigrations-dev-Database.template.json",
        "AuroraMigrations-dev-Runner.template.json",
    ]


def test_synth_with_bundling_needs_the_network(tmp_path: Path) -> None:
    """The contrast: the namespace really is offline, and bundling is what needs the network."""
    done = offline(tmp_path / "out", "-c", "env=dev")
    assert done.returncode != 0
    assert "pip could not install the runtime dependencies" in done.stderr, done.stderr[-3000:]
