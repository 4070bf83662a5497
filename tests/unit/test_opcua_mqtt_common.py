"""What the OPC UA and MQTT drivers share: the bounded sample queue and the option reader."""

from __future__ import annotations

import asyncio

import pytest

from protocols import ConfigError, Quality, Sample
from protocols.driver_options import OptionReader, Secret
from protocols.point_states import PointStates
from protocols.sample_queue import SampleQueue


def sample(n: int) -> Sample:
    return Sample(f"p{n}", float(n), Quality.GOOD, float(n))


async def test_queue_drops_the_oldest_and_counts_it() -> None:
    queue = SampleQueue(3)
    for n in range(5):
        queue.put(sample(n))
    stats = queue.statistics()
    assert (stats.size, stats.put, stats.dropped, stats.high_water) == (3, 5, 2, 3)
    assert [(await queue.get()).key for _ in range(3)] == ["p2", "p3", "p4"]
    assert queue.statistics().delivered == 3


async def test_queue_get_waits_and_close_ends_iteration_after_draining() -> None:
    queue = SampleQueue(10)
    got: list[str] = []

    async def consume() -> None:
        async for item in queue:
            got.append(item.key)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    queue.put(sample(1))
    queue.put(sample(2))
    queue.close()
    queue.put(sample(3))  # after close: ignored
    async with asyncio.timeout(2):
        await consumer
    assert got == ["p1", "p2"]


def test_queue_needs_a_positive_size() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SampleQueue(0)


def test_secret_never_shows_its_value() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2")


def test_option_reader_coerces_yaml_strings() -> None:
    read = OptionReader(
        "mqtt://h:1883", {"flag": "yes", "n": "3", "x": "2.5", "mode": "signandencrypt"}
    )
    assert read.boolean("flag", False) is True
    assert read.integer("n", 0) == 3
    assert read.number("x", 0.0) == 2.5
    assert read.choice("mode", None, {"SignAndEncrypt": "SE"}) == "SE"
    read.finish()


@pytest.mark.parametrize(
    ("options", "call", "message"),
    [
        ({"n": 2.5}, lambda r: r.integer("n", 0), "n=2.5 must be a whole number"),
        ({"n": True}, lambda r: r.integer("n", 0), "n=True must be a whole number"),
        ({"x": "nan"}, lambda r: r.number("x", 0.0), "x='nan' must be a finite number"),
        ({"x": 11}, lambda r: r.number("x", 0.0, maximum=10), "x=11 must be at most 10"),
        ({"s": ""}, lambda r: r.string("s"), "s='' must be a non-empty string"),
        ({"password": 5}, lambda r: r.secret("password"), r"password=\*\*\* must be a string"),
    ],
)
def test_option_reader_errors_name_option_value_and_expectation(
    options: dict[str, object], call: object, message: str
) -> None:
    read = OptionReader("mqtt://h:1883", options)
    with pytest.raises(ConfigError, match=message) as error:
        call(read)  # type: ignore[operator]
    assert str(error.value).startswith("mqtt://h:1883: option ")


def test_option_reader_finish_lists_known_options() -> None:
    read = OptionReader("x://h", {"qos": 1, "colour": "red"})
    read.integer("qos", 1)
    read.string("color")
    with pytest.raises(
        ConfigError,
        match=r"unknown option 'colour' \(did you mean 'color'\?\); known options: color, qos",
    ):
        read.finish()


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, object]]] = []

    def info(self, event: str, **kw: object) -> None:
        self.lines.append(("info", event, kw))

    def warning(self, event: str, **kw: object) -> None:
        self.lines.append(("warning", event, kw))


def test_point_states_log_each_change_once() -> None:
    log = RecordingLog()
    states = PointStates(log, "x", quiet_reasons=frozenset({"x.gone"}))

    def feed(key: str, reason: str | None) -> None:
        quality = Quality.GOOD if reason is None else Quality.BAD
        states.update(Sample(key, None, quality, 0.0, reason=reason))

    for key, reason in [
        ("a", None),  # first good: silent
        ("a", "x.r1"),  # bad: logged
        ("a", "x.r1"),  # same: silent
        ("a", "x.r2"),  # new reason: logged
        ("a", None),  # back: logged
        ("b", "x.gone"),  # quiet reason: tracked, not logged
        ("b", None),  # back: logged
        ("c", "x.gone"),
    ]:
        feed(key, reason)
    assert [(level, event, kw.get("reason")) for level, event, kw in log.lines] == [
        ("warning", "x.point_bad", "x.r1"),
        ("warning", "x.point_bad", "x.r2"),
        ("info", "x.point_back", None),
        ("info", "x.point_back", None),
    ]
    assert states.bad_points() == ["c"]
