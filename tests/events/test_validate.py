"""The judge: what is accepted, what is refused (with which field), and that nothing is lost."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientcore.events.validate import judge

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _raw(event: dict[str, object]) -> bytes:
    return orjson.dumps(event)


def _one(event: dict[str, object] | bytes, **kwargs: object) -> dict[str, object]:
    raw = event if isinstance(event, bytes) else _raw(event)
    result = judge([raw], received_at=NOW, **kwargs)  # type: ignore[arg-type]
    if result.rejected:
        r = result.rejected[0]
        return {"rejected": True, "field": r.field, "reason": r.reason}
    return result.table().to_pylist()[0]


@pytest.mark.parametrize(
    ("event", "kind", "name"),
    [
        (
            {"type": "track", "event": "Product Viewed", "anonymousId": "a"},
            "track",
            "Product Viewed",
        ),
        ({"type": "identify", "userId": "u", "traits": {"email": "x@y.z"}}, "identify", None),
        ({"type": "page", "name": "Home", "anonymousId": "a"}, "page", "Home"),
        ({"type": "screen", "name": "Cart", "userId": "u"}, "screen", "Cart"),
        ({"type": "group", "groupId": "g1", "userId": "u"}, "group", None),
        ({"type": "alias", "previousId": "a", "userId": "u"}, "alias", None),
    ],
)
def test_every_segment_call_is_accepted(event: dict[str, object], kind: str, name: str) -> None:
    row = _one(event)
    assert row["type"] == kind
    assert row["event"] == name


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ({"type": "track", "userId": "u"}, "event", "required for track"),
        ({"type": "nonsense", "userId": "u"}, "type", "must be one of"),
        ({"userId": "u", "event": "x"}, "type", "required"),
        ({"type": "track", "event": "x"}, "userId", "userId or anonymousId"),
        ({"type": "track", "event": "x", "userId": "", "anonymousId": ""}, "userId", "userId or"),
        (
            {"type": "track", "event": "x", "userId": "u", "timestamp": "yesterday"},
            "timestamp",
            "ISO-8601",
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "sentAt": "12/01/2025"},
            "sentAt",
            "ISO-8601",
        ),
        (
            {"type": "track", "event": "x", "userId": {"id": 1}},
            "userId",
            "must be a number or a string",
        ),
        ({"type": "track", "event": 5, "userId": "u"}, "event", "must be a string"),
        ({"type": "track", "event": "x", "userId": "u", "properties": []}, "properties", "object"),
        (
            {
                "type": "track",
                "event": "Order Completed",
                "userId": "u",
                "properties": {"revenue": "ten"},
            },
            "properties.revenue",
            "must be a number",
        ),
        (
            {
                "type": "track",
                "event": "Order Completed",
                "userId": "u",
                "properties": {"products": [{"price": 1}, {"price": "x"}]},
            },
            "properties.products[1].price",
            "must be a number",
        ),
        ({"type": "alias", "userId": "u"}, "previousId", "required for alias"),
        ({"type": "group", "userId": "u"}, "groupId", "required for group"),
        ({"type": "track", "event": "x", "userId": "u", "context": "web"}, "context", "object"),
    ],
)
def test_invalid_events_name_the_field(event: dict[str, object], field: str, words: str) -> None:
    row = _one(event)
    assert row["rejected"] is True
    assert row["field"] == field
    assert words in str(row["reason"])


@pytest.mark.parametrize(
    ("raw", "words"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be an object"), (None, "UTF-8")],
)
def test_unreadable_lines_are_rejected_not_dropped(raw: bytes | None, words: str) -> None:
    result = judge([raw], received_at=NOW)
    assert result.n_valid == 0
    assert words in result.rejected[0].reason


def test_unknown_fields_are_kept_verbatim() -> None:
    event = {
        "type": "track",
        "event": "Store Visit",
        "userId": "u",
        "context": {"channel": "store", "store_id": 12, "till": {"lane": 4}},
        "loyalty": {"tier": "gold", "points": [1, 2, 3]},
    }
    row = _one(event)
    assert orjson.loads(str(row["payload"])) == event


def test_clock_skew_is_corrected_as_segment_does() -> None:
    # The device clock is 2 hours fast: timestamp and sentAt both carry the same error.
    row = _one(
        {
            "type": "track",
            "event": "x",
            "userId": "u",
            "timestamp": "2025-06-01T13:59:50Z",
            "sentAt": "2025-06-01T14:00:00Z",
        }
    )
    assert row["timestamp"] == datetime(2025, 6, 1, 11, 59, 50, tzinfo=UTC)
    assert row["original_timestamp"] == datetime(2025, 6, 1, 13, 59, 50, tzinfo=UTC)


def test_batch_sent_at_applies_to_events_without_their_own() -> None:
    event = {"type": "track", "event": "x", "userId": "u", "timestamp": "2025-06-01T11:00:00Z"}
    result = judge([_raw(event)], received_at=NOW, default_sent_at="2025-06-01T11:00:30Z")
    assert result.table().to_pylist()[0]["timestamp"] == datetime(
        2025, 6, 1, 11, 59, 30, tzinfo=UTC
    )


def test_import_trusts_the_files_received_at_only_when_asked() -> None:
    event = {
        "type": "track",
        "event": "x",
        "userId": "u",
        "timestamp": "2024-01-01T10:00:00Z",
        "sentAt": "2024-01-01T10:00:10Z",
        "receivedAt": "2024-01-01T09:00:10Z",
    }
    imported = _one(event, trust_payload_received_at=True)
    assert imported["timestamp"] == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    assert imported["received_at"] == datetime(2024, 1, 1, 9, 0, 10, tzinfo=UTC)
    collected = _one(event)
    assert collected["received_at"] == NOW


def test_without_sent_at_the_timestamp_is_taken_as_is() -> None:
    row = _one(
        {"type": "track", "event": "x", "userId": "u", "timestamp": "2024-02-03T04:05:06+02:00"}
    )
    assert row["timestamp"] == datetime(2024, 2, 3, 2, 5, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({"context": {"channel": "call_center", "agent_id": 7}}, "call_center"),
        ({"context": {"channel": "browser"}}, "web"),
        ({"channel": "server"}, "other"),
        ({"context": {"channel": "Store"}}, "store"),
        ({"context": {"channel": "carrier-pigeon"}}, "other"),
        ({}, "other"),
    ],
)
def test_channels_are_mapped_onto_retail_channels(sent: dict[str, object], expected: str) -> None:
    assert _one({"type": "track", "event": "x", "userId": "u", **sent})["channel"] == expected


def test_numeric_ids_become_text_and_missing_message_ids_are_derived_stably() -> None:
    event = {"type": "identify", "userId": 12345}
    first, second = _one(event), _one(event)
    assert first["user_id"] == "12345"
    assert str(first["message_id"]).startswith("md5-")
    assert first["message_id"] == second["message_id"]


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=4,
)
_eventish = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias", "x", 3]),
        "event": st.text(max_size=5) | st.integers(-(2**53), 2**53),
        "userId": st.text(max_size=5) | st.integers(-(2**53), 2**53) | st.none(),
        "anonymousId": st.text(max_size=5),
        "timestamp": st.sampled_from(["2025-01-01T00:00:00Z", "soon", "2025-13-01"]),
        "properties": _json_values,
        "context": _json_values,
        "previousId": st.text(max_size=3),
        "groupId": st.integers(-(2**53), 2**53),
    },
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_eventish.map(orjson.dumps) | st.binary(max_size=20), max_size=8))
def test_every_input_is_either_stored_or_kept_aside(raws: list[bytes]) -> None:
    result = judge(list(raws), received_at=NOW)
    kept = sorted(result.indexes + [r.index for r in result.rejected])
    assert kept == list(range(len(raws)))
    for r in result.rejected:
        assert r.field
        assert r.reason
