"""`history` says who applied each revision and how long it took, for `status`."""

from __future__ import annotations

import getpass
import socket

from sqlalchemy.engine import URL

from runner.core.results import Request
from tests.conftest import engine_for, settings_for


def test_history_names_who_applied_and_how_long(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    engine.run(Request("upgrade"))
    result = engine.run(Request("history"))

    [info] = [r for r in result.revisions or [] if r.revision == "0017"]
    assert info.applied and info.applied_at
    assert info.applied_by is not None and getpass.getuser() in info.applied_by
    assert socket.gethostname() in info.applied_by
    assert isinstance(info.duration_ms, int) and info.duration_ms >= 0
