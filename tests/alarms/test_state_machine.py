"""Property tests of the ISA-18.2 state machine (gridos.alarms.model), driven directly by hypothesis."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gridos.alarms import model
from gridos.alarms.model import (
    ALLOWED,
    US,
    AlarmRecord,
    Chatter,
    Condition,
    IllegalTransition,
    LimitSpec,
    Priority,
    ShelveKind,
    State,
    Transition,
)

LIMIT = 100.0
CHATTER = Chatter()


def spec(deadband: float = 2.0, on_delay_s: float = 0, off_delay_s: float = 0, **kw: Any) -> LimitSpec:
    return LimitSpec(
        Condition.h,
        LIMIT,
        Priority.high,
        deadband=deadband,
        on_delay_us=round(on_delay_s * US),
        off_delay_us=round(off_delay_s * US),
        **kw,
    )


def record() -> AlarmRecord:
    return AlarmRecord("d", "voltage", Condition.h)


class Lifecycle(RuleBasedStateMachine):
    """Random samples, operator actions and time; every transition must be in the ALLOWED table."""

    def __init__(self) -> None:
        super().__init__()
        self.rec = record()
        self.spec = spec(deadband=2.0, on_delay_s=1, off_delay_s=1, latching=False, realarm_us=30 * US)
        self.now = 1_000 * US
        self.transitions: list[Transition] = []

    def _apply(self, transitions: list[Transition]) -> None:
        for t in transitions:
            assert (t.from_state, t.to_state) in ALLOWED[t.action], t
        self.transitions += transitions

    def _act(self, fn: object, *args: object) -> None:
        before = self.rec.copy()
        try:
            self._apply(fn(self.rec, *args))  # type: ignore[operator]
        except IllegalTransition:
            # A refused action changes nothing.
            assert self.rec.fingerprint() == before.fingerprint()

    @rule(value=st.sampled_from([90.0, 97.0, 99.0, 100.5, 101.0, 120.0]), dt=st.integers(1, 5))
    def sample(self, value: float, dt: int) -> None:
        self.now += dt * US
        self._apply(model.on_sample(self.rec, self.spec, value, self.now, self.now, self.now, CHATTER))

    @rule()
    def ack(self) -> None:
        self._act(model.ack, self.now, "operator", "seen")

    @rule(kind=st.sampled_from(ShelveKind), minutes=st.integers(1, 60))
    def shelve(self, kind: ShelveKind, minutes: int) -> None:
        self._act(model.shelve, self.now, kind, self.now + minutes * 60 * US, "operator", None)

    @rule()
    def unshelve(self) -> None:
        self._act(model.unshelve, self.now, "operator", None)

    @rule(on=st.booleans())
    def suppress(self, on: bool) -> None:
        self._act(model.set_suppressed, self.now, on, "admin", None)

    @rule(on=st.booleans())
    def out_of_service(self, on: bool) -> None:
        self._act(model.set_out_of_service, self.now, on, "admin", None)

    @rule(minutes=st.integers(1, 90))
    def wait(self, minutes: int) -> None:
        self.now += minutes * 60 * US
        self._apply(model.tick(self.rec, self.now, self.spec, CHATTER))

    @invariant()
    def consistent(self) -> None:
        rec = self.rec
        assert rec.core in model.CORE_STATES
        if rec.shelved is not None:
            # Shelving always ends: it has an expiry no later than the longest shelve asked for.
            assert rec.shelved_until_us is not None
        if not rec.overlaid:
            if rec.core is State.cleared_unacked:
                assert not rec.condition_active
            if rec.core is State.normal:
                assert not rec.condition_active
            if rec.core in (State.active_unacked, State.active_acked):
                assert rec.condition_active or rec.latched

    @precondition(lambda self: self.rec.shelved is not None)
    @rule()
    def shelve_expires(self) -> None:
        assert self.rec.shelved_until_us is not None
        self.now = max(self.now, self.rec.shelved_until_us)
        self._apply(model.tick(self.rec, self.now, self.spec, CHATTER))
        assert self.rec.shelved is None


Lifecycle.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestLifecycle = Lifecycle.TestCase


class LatchingLifecycle(Lifecycle):
    def __init__(self) -> None:
        super().__init__()
        self.spec = spec(deadband=2.0, latching=True)


LatchingLifecycle.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestLatchingLifecycle = LatchingLifecycle.TestCase


def feed(rec: AlarmRecord, s: LimitSpec, values: list[float], step_us: int = US) -> list[Transition]:
    out: list[Transition] = []
    t = 10 * US
    for v in values:
        t += step_us
        out += model.on_sample(rec, s, v, t, t, t, CHATTER)
    return out


@given(st.lists(st.floats(-1.9, 5.0), min_size=1, max_size=300))
def test_noise_within_deadband_after_crossing_is_one_alarm(noise: list[float]) -> None:
    """Once past the limit, noise that never goes back past the deadband (2.0) cannot clear, so it
    cannot re-activate: at most one activation, however it chatters around the limit."""
    transitions = feed(record(), spec(deadband=2.0), [LIMIT + n for n in noise])
    assert sum(t.action == "activate" for t in transitions) <= 1
    assert not any(t.action == "clear" for t in transitions)


@given(st.lists(st.tuples(st.integers(1, 4), st.floats(0.1, 5.0)), min_size=1, max_size=100))
def test_excursions_shorter_than_on_delay_never_alarm(bursts: list[tuple[int, float]]) -> None:
    """A signal oscillating around the limit, above it for less than the 5 s on-delay at a time."""
    values: list[float] = []
    for above, amplitude in bursts:
        values += [LIMIT + amplitude] * above + [LIMIT - amplitude]
    assert feed(record(), spec(deadband=0.0, on_delay_s=5), values) == []


@given(st.lists(st.floats(90.0, 110.0), max_size=200), st.integers(1, 8))
def test_duplicated_samples_never_count_twice(values: list[float], copies: int) -> None:
    """The same stream applied again (a retry, a second replica) yields no further transitions."""
    rec = record()
    s = spec(deadband=1.0)
    feed(rec, s, values)
    for _ in range(copies):
        assert feed(rec, s, values) == []


@given(st.booleans(), st.floats(0.0, 3.0))
def test_ack_and_clear_commute(ack_first: bool, deadband: float) -> None:
    s = spec(deadband=deadband)
    rec = record()
    feed(rec, s, [LIMIT + 10])
    assert rec.state is State.active_unacked
    steps = [
        lambda: model.ack(rec, 50 * US, "op"),
        lambda: feed(rec, s, [LIMIT - deadband - 1], step_us=20 * US),
    ]
    for step in steps if ack_first else reversed(steps):
        step()
    assert rec.state is State.normal and not rec.condition_active


@given(st.integers(1, 3600), st.integers(0, 7200))
def test_timed_shelve_expires(minutes: int, later_s: int) -> None:
    rec = record()
    feed(rec, spec(), [LIMIT + 10])
    until = 100 * US + minutes * 60 * US
    model.shelve(rec, 100 * US, ShelveKind.timed, until, "op")
    now = 100 * US + later_s * US
    transitions = model.tick(rec, now, spec(), CHATTER)
    if now >= until:
        assert rec.shelved is None and rec.state is State.active_unacked
        assert [t.action for t in transitions] == ["unshelve"]
    else:
        assert rec.state is State.shelved and transitions == []


def test_one_shot_shelve_ends_when_condition_returns() -> None:
    rec, s = record(), spec()
    feed(rec, s, [LIMIT + 10])
    model.shelve(rec, 20 * US, ShelveKind.one_shot, 10**12, "op")
    transitions = model.on_sample(rec, s, LIMIT - 5, 30 * US, 30 * US, 30 * US, CHATTER)
    assert rec.state is State.normal and [t.action for t in transitions] == ["unshelve"]


def test_chattering_flag_after_three_activations_in_a_minute() -> None:
    rec, s = record(), spec(deadband=0.5)
    feed(rec, s, [LIMIT + 1, LIMIT - 1] * 3, step_us=5 * US)
    assert rec.chattering
    model.tick(rec, 10**9, s, CHATTER)
    assert not rec.chattering


def test_latching_alarm_stays_until_acknowledged() -> None:
    rec, s = record(), spec(latching=True)
    feed(rec, s, [LIMIT + 10, LIMIT - 10])
    assert rec.state is State.active_unacked and rec.latched
    model.ack(rec, 100 * US, "op")
    assert rec.state is State.normal


def test_realarm_of_acknowledged_alarm_still_active() -> None:
    rec, s = record(), spec(realarm_us=60 * US)
    feed(rec, s, [LIMIT + 10])
    model.ack(rec, 20 * US, "op")
    assert model.tick(rec, 50 * US, s, CHATTER) == []
    assert [t.action for t in model.tick(rec, 81 * US, s, CHATTER)] == ["realarm"]
    assert rec.state is State.active_unacked
