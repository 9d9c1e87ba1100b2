"""What revision authors use: live-DDL helpers for revisions, and renumbering a revision."""
