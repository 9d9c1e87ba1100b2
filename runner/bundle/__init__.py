"""The Lambda deployment package: build it, check it, say what is in it."""
