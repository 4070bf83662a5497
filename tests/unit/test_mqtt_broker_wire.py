"""The embedded broker's wire pieces: topic filters, matching (against paho's), packet lengths."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from simulators.mqtt_broker import packet, topic_matches, valid_filter


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),  # §4.7.1.2: # also matches the parent level
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("+/+", "/x", True),  # an empty level is a level
        ("#", "$SYS/load", False),  # §4.7.2: wildcards at the start skip $ topics
        ("$SYS/#", "$SYS/load", True),
        ("a/b", "a/b/", False),
    ],
)
def test_topic_matching(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    ("topic_filter", "ok"),
    [
        ("a/b", True),
        ("a/+/c", True),
        ("#", True),
        ("a/#", True),
        ("", False),
        ("a/#/c", False),
        ("a+", False),
        ("a/b#", False),
    ],
)
def test_valid_filters(topic_filter: str, ok: bool) -> None:
    assert valid_filter(topic_filter) is ok


LEVEL = st.sampled_from(["a", "b", "", "$x"])


@given(
    st.lists(LEVEL | st.just("+"), min_size=1, max_size=4),
    st.booleans(),
    st.lists(LEVEL, min_size=1, max_size=5),
)
def test_matching_agrees_with_paho(
    filter_levels: list[str], hash_end: bool, topic_levels: list[str]
) -> None:
    topic_filter = "/".join([*filter_levels, "#"] if hash_end else filter_levels)
    topic = "/".join(topic_levels)
    assume(topic_filter)  # an empty filter is invalid (tested above)
    assert valid_filter(topic_filter)
    assert topic_matches(topic_filter, topic) == topic_matches_sub(topic_filter, topic)


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, b"\x30\x00"),
        (127, b"\x30\x7f"),
        (128, b"\x30\x80\x01"),
        (16383, b"\x30\xff\x7f"),
        (16384, b"\x30\x80\x80\x01"),
    ],
)
def test_remaining_length_varint(length: int, header: bytes) -> None:
    # MQTT 3.1.1 §2.2.3 table 2.4: the boundaries of the one- to three-byte encodings
    assert packet(3, 0, b"x" * length)[: len(header)] == header
