"""Where the CLI's log lines go, and in which form.

JSON lines (the Lambda's format) when stderr is not a terminal or with `--log-format json`;
on a terminal, or with `--log-format human`, short human lines instead, printed through the
same console as the live progress so the two never garble each other. Human lines show
warnings and errors (everything with `-v`), but not what the CLI says itself: the progress
events (`runner.adapters.live` draws them) and `run.failed` (the `FAILED:` line says it). `-q` drops
`run.failed` from JSON lines too, so a refusal is said once.
"""

from __future__ import annotations

import json
import logging
from typing import IO, TYPE_CHECKING, Any, Protocol

from runner.core.logs import LOGGER_NAME, configure_logging, protect_root

if TYPE_CHECKING:  # JSON lines need no rich: only the human lines import it
    from rich.console import Console


class HasFile(Protocol):
    """A rich Console, or anything else with the (scrubbed) stream it writes to."""

    @property
    def file(self) -> IO[str]: ...


SAID_BY_THE_CLI = frozenset({"run.failed"})
DRAWN_LIVE = frozenset({"step.start", "step", "lock.waiting", "lock.acquired"})
_NOT_FIELDS = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "event",
    "service",
    "request_id",
}
_STYLES = {"DEBUG": "dim", "INFO": "dim", "WARNING": "yellow", "ERROR": "bold red"}
_VALUE_LENGTH = 200


def human_format(log_format: str, stderr_is_terminal: bool) -> bool:
    """`auto` means human on a terminal and JSON lines anywhere else (a file, CI, a pipe)."""
    return log_format == "human" or (log_format == "auto" and stderr_is_terminal)


def setup(console: HasFile, *, human: bool, quiet: bool, verbose: bool) -> None:
    """Configure logging for one CLI run; `console` is the (scrubbed) stderr console (a rich
    Console when `human`)."""
    level = "WARNING" if quiet else "DEBUG" if verbose else "INFO"
    configure_logging(console.file, level=level)  # levels, the root handler, the SDK guard
    if not human:
        if quiet:
            for handler in logging.getLogger(LOGGER_NAME).handlers:
                handler.addFilter(_drop(SAID_BY_THE_CLI))
        return
    from rich.console import Console

    assert isinstance(console, Console)
    ours = HumanLogHandler(console, level=logging.DEBUG if verbose else logging.WARNING)
    for name in (LOGGER_NAME, "alembic"):
        logging.getLogger(name).handlers[:] = [ours]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "aurora_migrations", False)]:
        root.removeHandler(old)
        others = HumanLogHandler(console, level=logging.WARNING)
        others.aurora_migrations = True  # type: ignore[attr-defined]
        root.addHandler(others)
    protect_root()  # scrub on the new root handler too


class HumanLogHandler(logging.Handler):
    """One short line per record: `warning: lock.not_held lock_key=...`."""

    def __init__(self, console: Console, *, level: int) -> None:
        super().__init__(level)
        self.console = console
        self.addFilter(_drop(SAID_BY_THE_CLI | DRAWN_LIVE))

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        try:
            event = getattr(record, "event", None)
            if event is None:
                source = "" if record.name == LOGGER_NAME else f"{record.name}: "
                head = f"{source}{record.getMessage()}"
            else:
                head = str(event)
            fields = {k: v for k, v in vars(record).items() if k not in _NOT_FIELDS}
            line = Text(f"{record.levelname.lower()}: ", style=_STYLES.get(record.levelname, ""))
            line.append(head)
            for key, value in fields.items():
                line.append(f" {key.rstrip('_')}=", style="dim")
                line.append(_shown(value))
            self.console.print(line, soft_wrap=True, highlight=False)
        except Exception:
            self.handleError(record)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _VALUE_LENGTH else text[:_VALUE_LENGTH] + "…"


def _drop(events: frozenset[str]) -> logging.Filter:
    class Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return getattr(record, "event", None) not in events

    return Drop()
