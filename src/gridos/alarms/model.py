"""The ISA-18.2 / IEC 62682 alarm state machine, as pure functions over a plain record.

No I/O here: the service locks a record in the database, applies these functions, and persists the
result with the transitions they return. That keeps every rule of the lifecycle in one place and lets the
property tests (tests/alarms/test_state_machine.py) drive it directly.

A record has two layers:
- the *condition* (is the process variable past the limit, after deadband and on/off delays), and
- the *lifecycle* state the operator sees: normal, active_unacked, active_acked, cleared_unacked,
  overlaid by shelved / suppressed (by design) / out_of_service, which hide the alarm from the list.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

US = 1_000_000


class State(StrEnum):
    normal = "normal"
    active_unacked = "active_unacked"
    active_acked = "active_acked"
    cleared_unacked = "cleared_unacked"
    shelved = "shelved"
    suppressed = "suppressed"
    out_of_service = "out_of_service"


CORE_STATES = (State.normal, State.active_unacked, State.active_acked, State.cleared_unacked)


class Priority(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


PRIORITY_RANK = {Priority.critical: 0, Priority.high: 1, Priority.medium: 2, Priority.low: 3}


class Condition(StrEnum):
    hh = "hh"
    h = "h"
    l = "l"  # noqa: E741 - the ISA name of the low limit
    ll = "ll"
    comm = "comm"


class ShelveKind(StrEnum):
    one_shot = "one_shot"
    timed = "timed"


class IllegalTransition(Exception):
    """An operator action that the current state does not allow (e.g. acknowledging a normal alarm)."""


# Every (from, to) pair the machine may produce, per action. The property tests assert that nothing
# outside this table is ever reached.
ALLOWED: dict[str, set[tuple[State, State]]] = {
    "activate": {
        (State.normal, State.active_unacked),
        (State.cleared_unacked, State.active_unacked),
        (State.active_unacked, State.active_unacked),  # a latched alarm re-activating
        (State.active_acked, State.active_unacked),  # a latched, acknowledged alarm re-activating
    },
    "clear": {
        (State.active_unacked, State.cleared_unacked),
        (State.active_acked, State.normal),
    },
    "latch": {(State.active_unacked, State.active_unacked), (State.active_acked, State.active_acked)},
    "ack": {
        (State.active_unacked, State.active_acked),
        (State.active_unacked, State.normal),  # latched and already returned
        (State.cleared_unacked, State.normal),
    },
    "reset": {(State.active_acked, State.normal)},  # latched alarm, condition gone, operator resets
    "realarm": {(State.active_acked, State.active_unacked)},
    "shelve": {(s, State.shelved) for s in CORE_STATES},
    "unshelve": {(State.shelved, s) for s in (State.normal, State.active_unacked)},
    "suppress": {(s, State.suppressed) for s in (*CORE_STATES, State.shelved)},
    "unsuppress": {(State.suppressed, s) for s in (State.normal, State.active_unacked)},
    "remove_from_service": {
        (s, State.out_of_service) for s in (*CORE_STATES, State.shelved, State.suppressed)
    },
    "return_to_service": {
        (State.out_of_service, s) for s in (State.normal, State.active_unacked, State.suppressed)
    },
}


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One limit of one (device, measurement): where it trips, how it behaves."""

    condition: Condition
    value: float
    priority: Priority
    deadband: float = 0.0
    on_delay_us: int = 0
    off_delay_us: int = 0
    realarm_us: int | None = None
    latching: bool = False
    source: str = "rule"

    @property
    def high(self) -> bool:
        return self.condition in (Condition.hh, Condition.h)

    def exceeds(self, v: float) -> bool:
        return v > self.value if self.high else v < self.value

    def returned(self, v: float) -> bool:
        """Back inside the limit by at least the deadband (hysteresis)."""
        return v < self.value - self.deadband if self.high else v > self.value + self.deadband


@dataclass(slots=True)
class AlarmRecord:
    device_id: str
    measurement: str
    condition: Condition
    site: str = "default"
    id: int | None = None
    priority: Priority = Priority.medium
    core: State = State.normal
    condition_active: bool = False
    latched: bool = False
    pending_on_us: int | None = None
    pending_off_us: int | None = None
    last_ts_us: int | None = None
    shelved: ShelveKind | None = None
    shelved_until_us: int | None = None
    suppressed: bool = False
    out_of_service: bool = False
    activations: list[int] = field(default_factory=list)
    chattering: bool = False
    value: float | None = None
    limit: float | None = None
    activated_at_us: int | None = None
    acked_at_us: int | None = None
    changed_at_us: int | None = None
    actor: str | None = None
    comment: str | None = None
    message: str | None = None
    version: int = 0

    @property
    def state(self) -> State:
        if self.out_of_service:
            return State.out_of_service
        if self.suppressed:
            return State.suppressed
        if self.shelved is not None:
            return State.shelved
        return self.core

    @property
    def overlaid(self) -> bool:
        return self.out_of_service or self.suppressed or self.shelved is not None

    def fingerprint(self) -> tuple[object, ...]:
        """What must be persisted when it changes (the last value alone is not worth a write)."""
        return (
            self.core,
            self.condition_active,
            self.latched,
            self.pending_on_us,
            self.pending_off_us,
            self.shelved,
            self.shelved_until_us,
            self.suppressed,
            self.out_of_service,
            self.chattering,
            self.priority,
        )

    def copy(self) -> AlarmRecord:
        return replace(self, activations=list(self.activations))


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    from_state: State
    to_state: State
    at_us: int
    actor: str = "system"
    comment: str | None = None
    value: float | None = None
    limit: float | None = None
    sample_ts_us: int | None = None
    received_us: int | None = None


@dataclass(frozen=True, slots=True)
class Chatter:
    threshold: int = 3
    window_us: int = 60 * US


def _record(rec: AlarmRecord, action: str, before: State, now_us: int, **kw: Any) -> list[Transition]:
    after = rec.state
    rec.changed_at_us = now_us
    return [Transition(action, before, after, now_us, **kw)]


def _note_activation(rec: AlarmRecord, ts_us: int, chatter: Chatter) -> None:
    rec.activations = [t for t in rec.activations if t > ts_us - chatter.window_us][-20:]
    rec.activations.append(ts_us)
    rec.chattering = len(rec.activations) >= chatter.threshold


def activate(
    rec: AlarmRecord,
    now_us: int,
    chatter: Chatter,
    *,
    value: float | None = None,
    limit: float | None = None,
    priority: Priority | None = None,
    sample_ts_us: int | None = None,
    received_us: int | None = None,
    actor: str = "system",
    comment: str | None = None,
) -> list[Transition]:
    """The condition became active (after on-delay)."""
    before = rec.state
    rec.condition_active = True
    rec.pending_on_us = rec.pending_off_us = None
    rec.value, rec.limit = value, limit
    if priority is not None:
        rec.priority = priority
    _note_activation(rec, now_us, chatter)
    if rec.overlaid:
        # Tracked, not annunciated: the alarm comes back on unshelve / unsuppress / return to service.
        return []
    rec.latched = False
    rec.core = State.active_unacked
    rec.activated_at_us = now_us
    rec.acked_at_us = None
    rec.comment = comment
    return _record(
        rec,
        "activate",
        before,
        now_us,
        actor=actor,
        comment=comment,
        value=value,
        limit=limit,
        sample_ts_us=sample_ts_us,
        received_us=received_us,
    )


def clear(
    rec: AlarmRecord,
    now_us: int,
    latching: bool = False,
    *,
    value: float | None = None,
    sample_ts_us: int | None = None,
    received_us: int | None = None,
    actor: str = "system",
    comment: str | None = None,
) -> list[Transition]:
    """The condition returned to normal (after deadband and off-delay)."""
    before = rec.state
    rec.condition_active = False
    rec.pending_on_us = rec.pending_off_us = None
    rec.value = value
    kw = {"value": value, "sample_ts_us": sample_ts_us, "received_us": received_us, "actor": actor}
    if rec.shelved is ShelveKind.one_shot:
        # A one-shot shelve lasts until the alarm returns to normal.
        rec.shelved, rec.shelved_until_us = None, None
        rec.core = State.normal
        if rec.overlaid:
            return []
        return _record(rec, "unshelve", before, now_us, comment="one-shot shelve ended on return", **kw)
    if rec.overlaid:
        return []
    if rec.core in (State.active_unacked, State.active_acked):
        if latching:
            rec.latched = True
            return _record(rec, "latch", before, now_us, comment=comment, **kw)
        rec.core = State.cleared_unacked if rec.core is State.active_unacked else State.normal
        return _record(rec, "clear", before, now_us, comment=comment, **kw)
    return []


def on_sample(
    rec: AlarmRecord,
    spec: LimitSpec,
    value: float,
    ts_us: int,
    received_us: int,
    now_us: int,
    chatter: Chatter,
) -> list[Transition]:
    """Feed one sample of the process variable. Samples at or before the last one seen are ignored, so a
    sample delivered twice (a retry, or two replicas fed the same stream) never counts twice."""
    if rec.last_ts_us is not None and ts_us <= rec.last_ts_us:
        return []
    rec.last_ts_us = ts_us
    out: list[Transition] = []
    if not rec.condition_active:
        if spec.exceeds(value):
            if rec.pending_on_us is None:
                rec.pending_on_us = ts_us
            if ts_us - rec.pending_on_us >= spec.on_delay_us:
                out = activate(
                    rec,
                    now_us,
                    chatter,
                    value=value,
                    limit=spec.value,
                    priority=spec.priority,
                    sample_ts_us=ts_us,
                    received_us=received_us,
                )
        else:
            rec.pending_on_us = None
    else:
        if spec.returned(value):
            if rec.pending_off_us is None:
                rec.pending_off_us = ts_us
            if ts_us - rec.pending_off_us >= spec.off_delay_us:
                out = clear(
                    rec, now_us, spec.latching, value=value, sample_ts_us=ts_us, received_us=received_us
                )
        else:
            rec.pending_off_us = None
    out += tick(rec, now_us, spec, chatter)
    return out


def idle(rec: AlarmRecord, spec: LimitSpec, value: float, now_us: int) -> bool:
    """True when feeding this sample certainly changes nothing persistent: the ingest fast path."""
    if rec.condition_active:
        return (
            rec.pending_off_us is None
            and not spec.returned(value)
            and (spec.realarm_us is None or not realarm_due(rec, spec, now_us))
        )
    return rec.pending_on_us is None and not spec.exceeds(value)


def realarm_due(rec: AlarmRecord, spec: LimitSpec, now_us: int) -> bool:
    return (
        spec.realarm_us is not None
        and not rec.overlaid
        and rec.core is State.active_acked
        and rec.condition_active
        and rec.acked_at_us is not None
        and now_us - rec.acked_at_us >= spec.realarm_us
    )


def tick(
    rec: AlarmRecord, now_us: int, spec: LimitSpec | None = None, chatter: Chatter | None = None
) -> list[Transition]:
    """Time-driven changes: timed shelve expiry (also the maximum of a one-shot shelve), re-alarm of an
    acknowledged alarm still active, and the end of chattering."""
    out: list[Transition] = []
    if rec.shelved is not None and rec.shelved_until_us is not None and now_us >= rec.shelved_until_us:
        out += unshelve(rec, now_us, actor="system", comment="shelve time expired")
    if spec is not None and realarm_due(rec, spec, now_us):
        before = rec.state
        rec.core = State.active_unacked
        rec.acked_at_us = None
        out += _record(rec, "realarm", before, now_us, comment="still active after re-alarm time")
    if chatter is not None and rec.chattering:
        recent = [t for t in rec.activations if t > now_us - chatter.window_us]
        if len(recent) < chatter.threshold:
            rec.chattering = False
            rec.activations = recent
    return out


# -- operator actions -----------------------------------------------------------------------------
def ack(rec: AlarmRecord, now_us: int, actor: str, comment: str | None = None) -> list[Transition]:
    before = rec.state
    if rec.overlaid:
        raise IllegalTransition(f"alarm is {before.value}; only annunciated alarms are acknowledged")
    if rec.core is State.active_unacked:
        rec.core = State.normal if rec.latched and not rec.condition_active else State.active_acked
        if rec.core is State.normal:
            rec.latched = False
    elif rec.core is State.cleared_unacked:
        rec.core = State.normal
    elif rec.core is State.active_acked and rec.latched and not rec.condition_active:
        rec.core, rec.latched = State.normal, False
        rec.acked_at_us, rec.actor, rec.comment = now_us, actor, comment
        return _record(rec, "reset", before, now_us, actor=actor, comment=comment)
    else:
        raise IllegalTransition(f"alarm is {before.value}; nothing to acknowledge")
    rec.acked_at_us, rec.actor, rec.comment = now_us, actor, comment
    return _record(rec, "ack", before, now_us, actor=actor, comment=comment)


def comment(rec: AlarmRecord, now_us: int, actor: str, text: str) -> list[Transition]:
    """An operator's note on the alarm, in any state: a journal entry that changes nothing else."""
    rec.actor, rec.comment = actor, text
    return _record(rec, "comment", rec.state, now_us, actor=actor, comment=text)


def shelve(
    rec: AlarmRecord,
    now_us: int,
    kind: ShelveKind,
    until_us: int,
    actor: str,
    comment: str | None = None,
) -> list[Transition]:
    """Shelve: hide a nuisance alarm. Timed until `until_us`; one-shot until it returns to normal, and
    never longer than `until_us` (the maximum shelve time)."""
    before = rec.state
    if rec.out_of_service or rec.suppressed:
        raise IllegalTransition(f"alarm is {before.value}; it cannot be shelved")
    if rec.shelved is not None:
        raise IllegalTransition("alarm is already shelved")
    if kind is ShelveKind.one_shot and not rec.condition_active:
        raise IllegalTransition("a one-shot shelve needs an active condition (it ends when that returns)")
    rec.shelved, rec.shelved_until_us = kind, until_us
    rec.actor, rec.comment = actor, comment
    return _record(rec, "shelve", before, now_us, actor=actor, comment=comment)


def _back(rec: AlarmRecord) -> None:
    """Leaving an overlay re-evaluates: an active condition annunciates again, unacknowledged."""
    rec.latched = False
    rec.acked_at_us = None
    rec.core = State.active_unacked if rec.condition_active else State.normal


def unshelve(rec: AlarmRecord, now_us: int, actor: str, comment: str | None = None) -> list[Transition]:
    before = rec.state
    if rec.shelved is None:
        raise IllegalTransition(f"alarm is {before.value}, not shelved")
    rec.shelved, rec.shelved_until_us = None, None
    if rec.suppressed or rec.out_of_service:
        return []
    _back(rec)
    rec.actor, rec.comment = actor, comment
    return _record(rec, "unshelve", before, now_us, actor=actor, comment=comment)


def set_suppressed(
    rec: AlarmRecord, now_us: int, on: bool, actor: str, comment: str | None = None
) -> list[Transition]:
    before = rec.state
    if rec.out_of_service:
        raise IllegalTransition("alarm is out of service")
    if rec.suppressed == on:
        raise IllegalTransition(f"alarm is already {'suppressed' if on else 'not suppressed'}")
    rec.suppressed = on
    rec.shelved, rec.shelved_until_us = None, None
    if not on:
        _back(rec)
    rec.actor, rec.comment = actor, comment
    return _record(rec, "suppress" if on else "unsuppress", before, now_us, actor=actor, comment=comment)


def set_out_of_service(
    rec: AlarmRecord, now_us: int, on: bool, actor: str, comment: str | None = None
) -> list[Transition]:
    before = rec.state
    if rec.out_of_service == on:
        raise IllegalTransition(f"alarm is already {'out of' if on else 'in'} service")
    rec.out_of_service = on
    if on:
        rec.shelved, rec.shelved_until_us = None, None
    elif not rec.suppressed:
        _back(rec)
    rec.actor, rec.comment = actor, comment
    action = "remove_from_service" if on else "return_to_service"
    return _record(rec, action, before, now_us, actor=actor, comment=comment)
