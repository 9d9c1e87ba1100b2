"""cdk-nag wiring: run the AWS Solutions checks on synth, and acknowledge findings with a reason.

Written against cdk-nag 3.x, which reports through CDK's policy validation (`Validations`):
an unacknowledged finding makes `app.synth()` fail with `ValidationFailed` and a
`validation-report.json` in the cloud assembly.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_nag_checks(app: cdk.App) -> None:
    """Run the AWS Solutions rule pack over the whole app whenever it is synthesized."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on `scope` and everything below it.

    `rule_id` names one finding, e.g. `AwsSolutions-IAM5[Resource::*]`; cdk-nag 3 has no prefix
    matching, so each finding of a multi-finding rule is acknowledged on its own.
    """
    if len(reason.split()) < 5:
        raise ValueError(f"give {rule_id} a specific reason, not {reason!r}")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))
