"""Thin shells over the core: the Lambda handler, the `aurora-migrate` CLI, remote invoke."""
