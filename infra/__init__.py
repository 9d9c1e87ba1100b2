"""The CDK app that deploys the migrations runner (a Lambda inside the VPC) next to Aurora.

`infra/app.py` is the entry point (`cdk.json` runs it); `infra.application.build` wires the
stacks for one environment; `infra.stacks` holds the stacks and `infra.components` the small
constructs they compose.
"""
