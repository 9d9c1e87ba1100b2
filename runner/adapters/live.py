"""Live progress for the CLI: a spinner for what is running, one line for each thing done.

`LiveReporter` is the engine's progress callback (`runner.core.progress`). On a terminal the
revision in flight, or the wait for another run's migration lock, shows as a spinner that
disappears when it ends; each finished revision leaves a line (revision, description,
time). Elsewhere (`--log-format human` into a file) only the lines are written. With
`show=False` (`-q`, JSON logs) it prints nothing and only remembers what finished, for the
table a failure prints.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.status import Status
from rich.text import Text

from runner.core.progress import LOCK_ACQUIRED, LOCK_WAITING, STEP_DONE, STEP_START, Progress

_DOING = {"up": "applying", "down": "reverting", "stamp": "stamping"}
_DONE = {"up": "applied", "down": "reverted", "stamp": "stamped"}


class LiveReporter:
    """The progress callback the CLI hands to `MigrationEngine.run`."""

    def __init__(self, console: Console, *, show: bool) -> None:
        self.console = console
        self.show = show
        self.finished: list[Progress] = []  # STEP_DONE events, in order
        self.running: Progress | None = None
        self.waited_for_lock = False
        self._status: Status | None = None

    def __enter__(self) -> LiveReporter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is not None and self.running is not None:
            self._line("[bold red]✗[/]", self.running, "failed")
        self._stop()

    def __call__(self, event: Progress) -> None:
        if event.event == STEP_START:
            self.running = event
            self._spin(f"{_DOING.get(event.direction or '', 'running')} {_name(event)}")
        elif event.event == STEP_DONE:
            self.running = None
            self.finished.append(event)
            self._stop()
            verb = _DONE.get(event.direction or "", "done")
            self._line("[green]✓[/]", event, f"{verb} in {event.duration_ms} ms")
        elif event.event == LOCK_WAITING:
            self.waited_for_lock = True
            waiting = (
                "waiting for the migration lock: another run holds it "
                f"(giving up after {event.wait_limit_s:g} s)"
            )
            if self.console.is_terminal:
                self._spin(waiting)
            elif self.show:
                self.console.print(waiting, highlight=False, markup=False)
        elif event.event == LOCK_ACQUIRED:
            self._stop()
            if self.waited_for_lock and self.show:
                seconds = (event.waited_ms or 0) / 1000
                self.console.print(
                    f"waited {seconds:.1f} s for the migration lock (another run held it)",
                    highlight=False,
                    markup=False,
                )

    def _spin(self, text: str) -> None:
        if not (self.show and self.console.is_terminal):
            return
        if self._status is None:
            self._status = self.console.status(Text(text), spinner="dots")
            self._status.start()
        else:
            self._status.update(Text(text))

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _line(self, mark: str, step: Progress, outcome: str) -> None:
        if not self.show:
            return
        self._stop()
        line = Text.from_markup(mark) + " "
        line.append(step.revision or "", style="bold")
        line.append(f"  {step.description}  {outcome}")
        self.console.print(line, soft_wrap=True)


def _name(step: Progress) -> str:
    return f"{step.revision} {step.description}"
