"""Creating a silence refuses matcher sets that select every alert; a broad silence stored
before that check still loads (issue 25)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.matchers import Matcher, parse_matchers
from monitor.cli.alerts import add_silence as cli_add_silence
from monitor.store.alert_store import add_silence, list_silences
from monitor.store.tables import SilenceRecord


@pytest.mark.parametrize("text", ['chain!=""', 'chain=~".+"', 'chain!~""'])
def test_catch_all_silence_is_not_stored(sessions, clock, text):
    with pytest.raises(ValueError, match="match every alert"), sessions.begin() as session:
        add_silence(session, parse_matchers(text), clock.now, clock.now + timedelta(hours=1), "ops", "x", clock.now)
    with sessions() as session:
        assert session.query(SilenceRecord).count() == 0


def test_cli_reads_several_matchers_from_one_argument(sessions, clock):
    cli_add_silence(sessions, ['chain="batteries" node="cells"'], "ops", "maintenance", "1h", None, clock=clock)
    with sessions() as session:
        (stored,) = session.query(SilenceRecord).all()
        assert stored.matchers == ['chain="batteries"', 'node="cells"']


def test_a_broad_silence_stored_earlier_still_loads(sessions, clock):
    with sessions.begin() as session:
        session.add(SilenceRecord(id="00000000-0000-0000-0000-000000000001", matchers=['chain!=""'],
                                  starts_at=clock.now, ends_at=clock.now + timedelta(hours=1), created_by="ops",
                                  comment="before the guard", created_at=clock.now))
    with sessions() as session:
        (silence,) = list_silences(session, clock.now)
    assert silence.matchers == (Matcher("chain", "!=", ""),)
