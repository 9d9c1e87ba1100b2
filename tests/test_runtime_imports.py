"""The `runner` package ships in the Lambda bundle, so it imports only what the bundle has.

Every module it imports at run time is the standard library, `runner` itself, or a runtime
dependency from pyproject.toml (or one of theirs). Maintainer tools with other needs (e.g.
`cryptography` to refresh the CA bundle) live in `tools/`, outside the package.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from runner.bundle.build import AUTHORING_ONLY
from tests.conftest import REPO


def runtime_distributions() -> set[str]:
    """pyproject's runtime dependencies and everything they require, installed here."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    todo = [Requirement(text).name for text in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def imports_at_run_time(path: Path) -> set[str]:
    """Top-level names of the modules `path` imports, leaving out `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_runtime_package_imports_only_runtime_dependencies() -> None:
    allowed = runtime_distributions()
    providers = importlib.metadata.packages_distributions()
    outside = []
    for path in sorted((REPO / "runner").rglob("*.py")):
        if path.name in AUTHORING_ONLY:  # not shipped: runner.bundle.build leaves it out
            continue
        for module in sorted(imports_at_run_time(path)):
            if module in sys.stdlib_module_names or module in ("runner", "__future__"):
                continue
            dists = {canonicalize_name(d) for d in providers.get(module, [])}
            if not dists & allowed:
                outside.append(f"{path.relative_to(REPO)}: {module} ({', '.join(dists) or '?'})")

    assert not outside, (
        "runner/ ships in the Lambda bundle, but imports what is not a runtime dependency; "
        f"move the module out of the package (e.g. to tools/) or add the dependency: {outside}"
    )


def test_the_check_sees_through_type_checking_blocks(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nimport cryptography.x509\n"
        "if TYPE_CHECKING:\n    from mypy_boto3_rds import RDSClient\n"
    )

    assert imports_at_run_time(module) == {"typing", "cryptography"}
    assert {"sqlalchemy", "botocore"} <= runtime_distributions(), "direct and transitive"
