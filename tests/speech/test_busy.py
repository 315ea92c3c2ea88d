"""The busy signal: on when recognition waits too long, off again only after a calm spell."""

from __future__ import annotations

from ivr.speech.busy import BusySignal


def test_busy_comes_on_with_long_waits_and_goes_off_after_a_calm_spell() -> None:
    signal = BusySignal(enter_s=0.5, leave_s=0.15, window_s=2.0, calm_for_s=5.0)
    signal.waited(0.3, now=0.0)
    assert not signal.busy(now=0.1)  # slow-ish, not full
    signal.waited(0.8, now=1.0)
    assert signal.busy(now=1.0)
    signal.waited(0.3, now=4.0)  # better, but not calm: stays busy (no flapping)
    assert signal.busy(now=4.5)
    signal.waited(0.05, now=7.0)  # calm from here (the slower waits have left the window)
    assert signal.busy(now=11.5)  # calm, but not yet for 5 s
    assert not signal.busy(now=12.5)
    assert not signal.busy(now=30.0)  # no work at all is calm
