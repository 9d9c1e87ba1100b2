"""The migrator role: the runner migrates as a least-privileged owner, not as the master user.

`aurora-migrate bootstrap-migrator` creates the role once, with master credentials given for
that one call, and hands it the application schema. The pieces, in the order they run:

- `options`: what to bootstrap (role, schema, IAM or password), validated before anything.
- `script`: the SQL, pure text. The command runs exactly this script; `--print-sql` prints it
  for a DBA to review and run by hand. Every step checks first, so a re-run changes nothing.
- `admin`: where the master credentials come from for the one call (never the runner's own).
- `run`: the core: lock, refuse, run the script, set the password, record, commit.
- `result`: what was created, granted, revoked, handed over, and what was already in place.
- `command_line`: the `bootstrap-migrator` subcommand, a thin adapter over `run`.
"""

from runner.bootstrap.options import BootstrapOptions
from runner.bootstrap.result import BootstrapResult
from runner.bootstrap.run import bootstrap
from runner.bootstrap.script import for_review

__all__ = ["BootstrapOptions", "BootstrapResult", "bootstrap", "for_review"]
