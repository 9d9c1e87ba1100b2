"""The blocker watch: one thread for a whole run, looking only while a revision runs, and
final when `stop` returns (the LockTimeout message reads it right after)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from runner.core.blockers import BlockerWatch

ROW = (4242, "reporting", None, "idle in transaction", "SELECT * FROM items FOR UPDATE")


class FakeConnection:
    """Answers the blocker query with ROW after `delay_s`, counting the looks."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.looks = 0

    def execute(self, *_: Any) -> FakeConnection:
        self.looks += 1
        time.sleep(self.delay_s)
        return self

    def all(self) -> list[tuple[Any, ...]]:
        return [ROW]

    def rollback(self) -> None:
        pass


def watch_on(fake: FakeConnection, interval_s: float) -> BlockerWatch:
    @contextmanager
    def connect() -> Iterator[Any]:
        yield fake

    return BlockerWatch(connect, pid=1, interval_s=interval_s)


def watch_threads() -> int:
    return sum(t.name == "blocker-watch" for t in threading.enumerate())


def test_one_thread_serves_every_revision_of_a_run() -> None:
    watch = watch_on(FakeConnection(0), interval_s=10)
    for _ in range(50):
        watch.start()
        watch.stop()
    assert watch_threads() == 1
    watch.close()
    assert watch_threads() == 0


def test_it_looks_only_while_armed_and_stop_waits_for_a_look_in_progress() -> None:
    fake = FakeConnection(delay_s=0.3)
    watch = watch_on(fake, interval_s=0.05)
    watch.start()
    deadline = time.monotonic() + 5
    while fake.looks == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.looks == 1, "armed: it looked after the interval"
    watch.stop()  # the look is still sleeping: stop waits for its answer
    assert [b.pid for b in watch.blockers] == [4242]
    looks = fake.looks
    time.sleep(0.3)
    assert fake.looks == looks, "disarmed: no more looks"
    watch.start()
    assert watch.blockers == [], "a new revision starts with no blockers"
    watch.close()


def test_a_closed_watch_can_be_armed_again_for_a_retry() -> None:
    fake = FakeConnection(0)
    watch = watch_on(fake, interval_s=0.02)
    watch.start()
    watch.close()
    watch.start()
    deadline = time.monotonic() + 5
    while not watch.blockers and time.monotonic() < deadline:
        time.sleep(0.01)
    watch.close()
    assert [b.pid for b in watch.blockers] == [4242]
