"""Property tests of the ISA-18.2 alarm state machine: random values, times and operator actions.

Whatever the sequence, (1) every alarm event is one transition that ISA-18.2 allows (the table
below, from hse-standards.md §1.1), (2) the state the events tell is the state the engine
reports (so no transition happens without its event, and none is told twice), (3) a limit alarm
never clears on a value inside its deadband and never raises below its limit, and (4) a latched
alarm returns to normal only by reset (or by shelving, which resets the latch: §1.1 G).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.records import EventRecord
from edge_agent.rules import AlarmAction, AlarmActionError, AlarmSettings, RulesConfig
from protocols.types import Quality
from tests.unit.rules_kit import Harness, gas_point

A, B, C, D, E, F = (
    "normal",
    "active_unacked",
    "active_acked",
    "rtn_unacked",
    "latched_unacked",
    "latched_acked",
)

# (base state before, transition) -> base states allowed after it.
ALLOWED_BASE: dict[tuple[str, str], set[str]] = {
    (A, "raise"): {B},
    (D, "raise"): {B},
    (E, "raise"): {B},
    (F, "raise"): {B},
    (B, "clear"): {D, E},  # E only for a latching alarm
    (C, "clear"): {A, F},  # F only for a latching alarm
    (B, "ack"): {C},
    (D, "ack"): {A},
    (E, "ack"): {F},
    (F, "reset"): {A},
    (C, "re_alarm"): {B},
    # shelving acks an unacked alarm and resets a latch (§1.1 G [A1][A4])
    (A, "shelve"): {A},
    (B, "shelve"): {C},
    (C, "shelve"): {C},
    (D, "shelve"): {A},
    (E, "shelve"): {A},
    (F, "shelve"): {A},
}
# Overlay transitions: which flag they flip, from what to what. Base state unchanged.
OVERLAYS = {
    "unshelve": ("shelved", True, False),
    "suppress": ("suppressed", False, True),
    "unsuppress": ("suppressed", True, False),
    "out_of_service": ("out_of_service", False, True),
    "return_to_service": ("out_of_service", True, False),
}
OVERLAY_INDEX = {"shelved": 1, "suppressed": 2, "out_of_service": 3}


@dataclass(frozen=True)
class Full:
    base: str
    shelved: bool
    suppressed: bool
    out_of_service: bool

    def display(self) -> str:
        if self.out_of_service:
            return "out_of_service"
        if self.suppressed:
            return "suppressed"
        if self.shelved:
            return "shelved"
        return self.base


NORMAL = Full(A, False, False, False)
LIMITS = {"h": 10.0, "hh": 20.0}
DEADBAND = 1.0
LATCHING = {"hh"}


def after(event: EventRecord) -> Full:
    d = event.details
    return Full(d["base"], d["shelved_until"] is not None, d["suppressed"], d["out_of_service"])


def check_transition(name: str, before: Full, event: EventRecord) -> Full:
    new = after(event)
    t = event.transition
    assert event.state == new.display(), "the event's state is the ISA state after it"
    if t in OVERLAYS:
        flag, was, becomes = OVERLAYS[t]
        i = OVERLAY_INDEX[flag]
        assert (before.__dict__[flag], new.__dict__[flag]) == (was, becomes), (name, t)
        assert new.base == before.base, f"{t} must not change the base state"
        others = [k for k in OVERLAY_INDEX if k != flag]
        assert all(before.__dict__[k] == new.__dict__[k] for k in others)
        del i
        return new
    allowed = ALLOWED_BASE.get((before.base, t))
    assert allowed is not None, f"{name}: {t} is not allowed in {before.base}"
    assert new.base in allowed, f"{name}: {before.base} --{t}--> {new.base} is not allowed"
    if t == "clear":
        latched = new.base in (E, F)
        assert latched == (name in LATCHING), f"{name}: latching wrong on clear"
    if t == "shelve":
        assert not before.shelved
        assert not before.out_of_service
        assert new.shelved
        assert new.suppressed == before.suppressed
        assert new.out_of_service == before.out_of_service
    else:
        assert (new.shelved, new.suppressed, new.out_of_service) == (
            before.shelved,
            before.suppressed,
            before.out_of_service,
        ), f"{t} must not change an overlay"
    if before.base in (E, F) and new.base == A:
        assert t in ("reset", "shelve"), "a latched alarm is left only by reset (or shelving)"
    if name in LIMITS and event.value is not None:
        limit = LIMITS[name]
        if t == "raise":
            assert event.value >= limit, f"{name} raised at {event.value} below {limit}"
        if t == "clear":
            assert event.value < limit - DEADBAND, (
                f"{name} cleared at {event.value}, inside the deadband [{limit - DEADBAND}, {limit})"
            )
    return new


# Values are drawn mostly from the interesting places: each band, each limit and deadband edge.
LEVELS = [0.0, 5.0, 8.99, 9.0, 9.5, 10.0, 12.0, 15.0, 18.99, 19.0, 19.5, 20.0, 25.0]
values = st.one_of(
    st.sampled_from(LEVELS), st.sampled_from(LEVELS), st.floats(min_value=0, max_value=30)
)
reading_step = st.tuples(
    st.just("reading"),
    values,
    st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0, 5.0]),
    st.sampled_from(["good"] * 8 + ["bad", "flatline"]),
)
tick_step = st.tuples(
    st.just("tick"), st.sampled_from([0.5, 1.0, 3.0, 10.0, 60.0, 700.0]), st.none(), st.none()
)
command_step = st.tuples(
    st.just("command"),
    st.sampled_from(
        [*AlarmAction]
        + [AlarmAction.ACK, AlarmAction.RESET, AlarmAction.SHELVE, AlarmAction.UNSHELVE] * 2
    ),
    st.sampled_from(["h", "hh", "hh", "roc"]),
    st.sampled_from([None, 5.0, 100.0, 100.0, 40_000.0]),
)
steps = st.lists(
    st.one_of(reading_step, reading_step, reading_step, tick_step, command_step, command_step),
    min_size=10,
    max_size=120,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=steps,
    on_delay=st.sampled_from([0.0, 2.0]),
    off_delay=st.sampled_from([0.0, 3.0]),
    re_alarm=st.sampled_from([None, 30.0]),
)
def test_random_sequences_only_make_allowed_transitions(
    steps: list[tuple[object, object, object, object]],
    on_delay: float,
    off_delay: float,
    re_alarm: float | None,
) -> None:
    point = gas_point(
        h=10.0,
        hh=20.0,
        deadband=DEADBAND,
        roc=8.0,
        on_delay_s=on_delay,
        off_delay_s=off_delay,
        interval_s=20.0,  # long ticks make it a comm fault, short gaps do not
    )
    h = Harness([point], RulesConfig(alarms=AlarmSettings(re_alarm_s=re_alarm)))
    names = ["h", "hh", "roc"]
    tracked = dict.fromkeys(names, NORMAL)
    for kind, a, b, c in steps:
        if kind == "reading":
            assert isinstance(a, float)
            assert isinstance(b, float)
            if c == "bad":
                events = h.value(None, dt=b, reason="modbus.timeout")
            elif c == "flatline":
                events = h.value(a, dt=b, reason="flatline", quality=Quality.UNCERTAIN)
            else:
                events = h.value(a, dt=b)
        elif kind == "tick":
            assert isinstance(a, float)
            events = h.tick(a)
        else:
            assert isinstance(a, AlarmAction)
            assert isinstance(b, str)
            until = c if isinstance(c, float) else None
            reason = "test" if until != 5.0 else ""
            before = {n: h.engine.alarm(f"{point.point_id}:{n}") for n in names}
            try:
                events = h.act(a, b, reason=reason, until_s=until)
            except AlarmActionError:
                events = []
                after_refusal = {n: h.engine.alarm(f"{point.point_id}:{n}") for n in names}
                assert after_refusal == before, "a refused action changes nothing"
        for event in events:
            if not event.kind.startswith("limit."):
                continue
            name = event.kind.removeprefix("limit.")
            assert event.details["alarm_id"] == f"{point.point_id}:{name}"
            tracked[name] = check_transition(name, tracked[name], event)
            assert event.details["annunciated"] == (
                tracked[name].display() == tracked[name].base and tracked[name].base != A
            )
        for name in names:
            snap = h.engine.alarm(f"{point.point_id}:{name}")
            told = tracked[name]
            assert (snap.base_state, snap.shelved_until is not None, snap.suppressed) == (
                told.base,
                told.shelved,
                told.suppressed,
            ), f"{name}: state changed without its event"
            assert snap.out_of_service == told.out_of_service
            assert snap.state == told.display()
            if snap.condition == "fault":
                assert snap.value is None, "a point in fault never shows a value"


@settings(max_examples=200, deadline=None)
@given(
    series=st.lists(st.floats(min_value=0, max_value=30, allow_nan=False), min_size=1, max_size=60)
)
def test_the_same_inputs_give_the_same_events(series: list[float]) -> None:
    def run() -> list[EventRecord]:
        h = Harness([gas_point(roc=8.0)])
        for v in series:
            h.value(v)
            h.tick(0.5)
        return h.events

    assert run() == run()
