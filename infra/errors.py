"""Errors of the CDK app."""


class ConfigurationError(ValueError):
    """The app's context cannot be turned into stacks; the message says what to change."""
