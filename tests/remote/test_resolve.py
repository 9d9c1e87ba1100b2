"""`--function NAME` / `--env ENV` name exactly one function, the deployed stack's when it can
be read; the cluster to snapshot is one that exists. Stacks and clusters live in moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runner.adapters.remote import resolve
from runner.adapters.remote.resolve import resolve_cluster, resolve_function
from runner.core.errors import ClusterNotFound, FunctionNotFound, RemoteNotConfigured
from tests.aws.conftest import Aws

MakeStack = Callable[[str, dict[str, str]], None]


@pytest.fixture
def cfn(aws: Aws) -> Any:
    return aws.client("cloudformation")


@pytest.fixture
def rds(aws: Aws) -> Any:
    return aws.client("rds")


@pytest.fixture
def make_stack(cfn: Any) -> Iterator[MakeStack]:
    """`make_stack(name, outputs)`: a deployed stack with those outputs, deleted afterwards."""
    made: list[str] = []

    def make(name: str, outputs: dict[str, str]) -> None:
        template = {
            "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
        made.append(name)

    yield make
    for name in made:
        cfn.delete_stack(StackName=name)


def new_cluster(rds: Any) -> dict[str, Any]:
    cluster: dict[str, Any] = rds.create_db_cluster(
        DBClusterIdentifier=f"am-{uuid.uuid4().hex[:10]}",
        Engine="aurora-postgresql",
        MasterUsername="master",
        MasterUserPassword="not-used-1234",
    )["DBCluster"]
    return cluster


# --- functions ---------------------------------------------------------------------------------


def test_the_runner_stack_output_names_the_function(cfn: Any, make_stack: MakeStack) -> None:
    make_stack("AuroraMigrations-staging-Runner", {"FunctionName": "renamed-by-hand"})

    target = resolve_function(env="staging", cloudformation=cfn)

    assert target.name == "renamed-by-hand" and target.environment == "staging"
    assert target.source == "stack output AuroraMigrations-staging-Runner.FunctionName"


def test_without_a_readable_stack_the_convention_names_the_function(cfn: Any) -> None:
    target = resolve_function(env="dev", cloudformation=cfn)

    assert target.name == "aurora-migrations-dev"
    assert target.source == "convention (stack AuroraMigrations-dev-Runner: does not exist)"


def test_a_stack_without_the_output_is_not_taken_for_the_runner(
    cfn: Any, make_stack: MakeStack
) -> None:
    make_stack("AuroraMigrations-prod-Runner", {"SomethingElse": "x"})

    with pytest.raises(FunctionNotFound, match="no FunctionName output"):
        resolve_function(env="prod", cloudformation=cfn)


@pytest.mark.parametrize(
    "name",
    [
        "aurora-migrations-dev",
        "arn:aws:lambda:eu-west-1:123456789012:function:aurora-migrations-prod",
        "aurora-migrations-prod:live",
    ],
)
def test_a_named_function_is_taken_as_given(name: str) -> None:
    assert resolve_function(name=name) == resolve.FunctionTarget(name, None, "argument")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"name": "aurora-migrations-dev", "env": "dev"},
        {"env": "production"},
        {"name": "no spaces or; semicolons"},
        {"name": "x" * 200},
    ],
    ids=["neither", "both", "unknown-env", "bad-name", "too-long"],
)
def test_an_unclear_target_is_refused_before_any_call(kwargs: dict[str, Any]) -> None:
    with pytest.raises(RemoteNotConfigured):
        resolve_function(**kwargs)


# --- clusters ----------------------------------------------------------------------------------


def test_the_database_stack_endpoint_names_the_cluster(
    cfn: Any, rds: Any, make_stack: MakeStack
) -> None:
    cluster = new_cluster(rds)
    make_stack("AuroraMigrations-prod-Database", {"ClusterEndpoint": cluster["Endpoint"]})

    target = resolve_cluster(env="prod", rds=rds, cloudformation=cfn)

    assert target.identifier == cluster["DBClusterIdentifier"]
    assert target.source == "stack output AuroraMigrations-prod-Database.ClusterEndpoint"


def test_an_explicit_cluster_must_exist(rds: Any) -> None:
    cluster = new_cluster(rds)

    assert resolve_cluster(cluster=cluster["DBClusterIdentifier"], rds=rds).source == "argument"
    with pytest.raises(ClusterNotFound, match="No Aurora cluster 'am-missing'"):
        resolve_cluster(cluster="am-missing", rds=rds)


def test_an_environment_on_an_existing_cluster_needs_the_cluster_named(cfn: Any, rds: Any) -> None:
    with pytest.raises(ClusterNotFound, match="--cluster") as caught:
        resolve_cluster(env="staging", rds=rds, cloudformation=cfn)

    assert "AuroraMigrations-staging-Database does not exist" in caught.value.message


def test_a_stack_pointing_at_another_endpoint_is_refused(
    cfn: Any, rds: Any, make_stack: MakeStack
) -> None:
    cluster = new_cluster(rds)
    wrong = cluster["DBClusterIdentifier"] + ".cluster-000000000000.us-east-1.rds.amazonaws.com"
    make_stack("AuroraMigrations-dev-Database", {"ClusterEndpoint": wrong})

    with pytest.raises(ClusterNotFound, match="does not have the endpoint"):
        resolve_cluster(env="dev", rds=rds, cloudformation=cfn)


# --- the convention is the CDK app's -----------------------------------------------------------


def test_the_convention_matches_the_cdk_app() -> None:
    from infra.application import STACK_PREFIX
    from infra.config import ENVIRONMENTS

    assert tuple(ENVIRONMENTS) == resolve.ENVIRONMENTS
    assert STACK_PREFIX == resolve.STACK_PREFIX
    for name, settings in ENVIRONMENTS.items():
        assert settings.function_name == resolve.conventional_function(name)


@pytest.mark.slow
def test_the_synthesized_stacks_have_the_outputs_resolution_reads(tmp_path: Any) -> None:
    """One synth (about 25 s): the stack names and output keys resolve.py relies on."""
    from aws_cdk import App

    from infra.application import build

    app = App(context={"aws:cdk:bundling-stacks": [], "env": "dev"}, outdir=str(tmp_path))
    build(app)
    outputs = {s.stack_name: s.template.get("Outputs", {}) for s in app.synth().stacks}

    runner = outputs[resolve.runner_stack("dev")]
    database = outputs[resolve.database_stack("dev")]
    assert resolve.OUTPUT_FUNCTION_NAME in runner
    assert resolve.OUTPUT_CLUSTER_ENDPOINT in database
    endpoint = database[resolve.OUTPUT_CLUSTER_ENDPOINT]["Value"]["Fn::GetAtt"]
    assert endpoint[1] == "Endpoint.Address"  # <identifier>.cluster-<hash>.<region>.rds...
