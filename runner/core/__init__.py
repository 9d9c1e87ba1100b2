"""The engine and what it stands on: plan, lock, history, results, errors, settings.

Nothing here imports boto3 or argparse; the adapters translate to and from it.
"""
