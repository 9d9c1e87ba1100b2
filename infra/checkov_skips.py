"""checkov skips: a checkov finding we accept, written on the resource, with its reason.

checkov reads `Metadata.checkov.skip` of a CloudFormation resource; each entry names one check
and says why it does not apply. The README's security table lists every skip next to the
cdk-nag acknowledgements; `tests/infra` runs checkov over every synthesized template and fails
on any finding that is neither fixed nor skipped here.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import IConstruct


def skip_check(scope: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov check `check_id` on the CloudFormation resource `scope` (or its default
    child), keeping any skips already there."""
    resource = scope if isinstance(scope, cdk.CfnResource) else scope.node.default_child
    if not isinstance(resource, cdk.CfnResource):
        raise ValueError(f"{scope.node.path} is not a CloudFormation resource")
    if len(reason.split()) < 5:
        raise ValueError(f"give {check_id} a specific reason, not {reason!r}")
    metadata: dict[str, Any] = dict(resource.get_metadata("checkov") or {})
    skips = [entry for entry in metadata.get("skip", []) if entry["id"] != check_id]
    metadata["skip"] = [*skips, {"id": check_id, "comment": reason}]
    resource.add_metadata("checkov", metadata)
