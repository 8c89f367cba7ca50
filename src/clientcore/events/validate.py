"""Judge raw events: the valid ones become normalized columns, the others a field and a reason.

One function for every door (HTTP collector, NDJSON, CSV and Parquet importers), so an event is
accepted or refused by the same rules wherever it came from. The raw text is what gets stored,
so fields we do not know are never dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec
import pyarrow as pa

from clientcore.events.spec import (
    CHANNELS,
    EVENT_TYPES,
    SDK_CHANNEL_ALIASES,
    Alias,
    Event,
    Group,
    Page,
    Screen,
    Track,
)

_decoder = msgspec.json.Decoder(Event)

MAX_EVENT_BYTES = 4 * 1024 * 1024

EVENT_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("user_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("previous_id", pa.string()),
        ("group_id", pa.string()),
        ("channel", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("original_timestamp", pa.timestamp("us", tz="UTC")),
        ("sent_at", pa.timestamp("us", tz="UTC")),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("payload", pa.string()),
    ]
)


@dataclass(frozen=True)
class Rejection:
    """Why one event was refused: its position in the request or file, the field, the reason."""

    index: int
    field: str
    reason: str
    raw: str

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass
class Judgement:
    """The valid events of a batch, as columns ready to append, and the rejected ones."""

    columns: dict[str, list[object]] = field(
        default_factory=lambda: {name: [] for name in EVENT_SCHEMA.names}
    )
    indexes: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def n_valid(self) -> int:
        return len(self.indexes)

    def table(self) -> pa.Table:
        arrays = [
            pa.array(self.columns[f.name], type=pa.int64()).cast(f.type)
            if pa.types.is_timestamp(f.type)
            else pa.array(self.columns[f.name], type=f.type)
            for f in EVENT_SCHEMA
        ]
        return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


_KIND_WORDS = {
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


def _words(kinds: str) -> str:
    """`int | float | str | null` -> "a number or a string" (null is always allowed)."""
    seen: list[str] = []
    for kind in kinds.split(" | "):
        word = _KIND_WORDS.get(kind.strip(), kind.strip())
        if word != "null" and word not in seen:
            seen.append(word)
    return " or ".join(seen) or "null"


def _field_of(message: str, event_type: str | None) -> tuple[str, str]:
    """Turn msgspec's "Expected `str`, got `int` - at `$.userId`" into a field and a reason."""
    reason, sep, where = message.rpartition(" - at `")
    if not sep:
        reason, where = message, "$`"
    path = where.rstrip("`").removeprefix("$").removeprefix(".")
    if reason.startswith("Object missing required field"):
        missing = reason.split("`")[1]
        path = f"{path}.{missing}" if path else missing
        needed = f" for {event_type} calls" if event_type and missing != "type" else ""
        return path, f"is required{needed}"
    if reason.startswith("Expected `"):
        expected, _, got = reason.removeprefix("Expected `").partition("`, got `")
        return path or "$", f"must be {_words(expected)}, got {_words(got.rstrip('`'))}"
    if reason.startswith("Invalid value") and path == "type":
        return path, f"must be one of {', '.join(EVENT_TYPES)}; got {reason[14:]}"
    return path or "$", reason


def _type_of(raw: bytes) -> str | None:
    """The `type` of a rejected event, to say which calls need the missing field."""
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime | None) -> int | None:
    """Microseconds since the epoch: Arrow builds these far faster than datetime objects."""
    if moment is None:
        return None
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _parse_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _InvalidError(name, f"is not an ISO-8601 timestamp: {value[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class _InvalidError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _channel(event: Event) -> str:
    raw = (event.context.channel if event.context else None) or event.channel or ""
    raw = raw.lower()
    if raw in CHANNELS:
        return raw
    return SDK_CHANNEL_ALIASES.get(raw, "other")


def judge(
    raws: list[bytes | None],
    received_at: datetime | None = None,
    trust_payload_received_at: bool = False,
    default_sent_at: str | None = None,
    start_index: int = 0,
) -> Judgement:
    """Validate and normalize raw JSON events (None stands for an undecodable line).

    `received_at` is the receiver's clock (now, for the collector). Clock skew is corrected as
    Segment does: timestamp = receivedAt - (sentAt - timestamp) when the sender gave sentAt
    (per event, else the batch's `default_sent_at`). An import trusts the file's own
    `receivedAt` (`trust_payload_received_at`); the collector never trusts a client's.
    """
    now = received_at or datetime.now(UTC)
    out = Judgement()
    cols = out.columns
    for offset, raw in enumerate(raws):
        index = start_index + offset
        try:
            if raw is None:
                raise _InvalidError("$", "line is not valid UTF-8 text")
            if len(raw) > MAX_EVENT_BYTES:
                raise _InvalidError("$", f"event is larger than {MAX_EVENT_BYTES // 1024} KiB")
            try:
                event = _decoder.decode(raw)
            except msgspec.DecodeError as error:
                message = str(error)
                if isinstance(error, msgspec.ValidationError):
                    raise _InvalidError(*_field_of(message, _type_of(raw))) from None
                raise _InvalidError("$", "is not valid JSON: " + message) from None
            user_id, anonymous_id = _text(event.userId), _text(event.anonymousId)
            if user_id is None and anonymous_id is None:
                raise _InvalidError("userId", "userId or anonymousId is required")
            original = _parse_time(event.timestamp, "timestamp") or _parse_time(
                event.originalTimestamp, "originalTimestamp"
            )
            sent_at = _parse_time(event.sentAt or default_sent_at, "sentAt")
            payload_received = _parse_time(event.receivedAt, "receivedAt")
        except _InvalidError as invalid:
            text = raw.decode("utf-8", "replace") if raw is not None else ""
            out.rejected.append(Rejection(index, invalid.field, invalid.reason, text))
            continue
        received = (payload_received if trust_payload_received_at else None) or now
        skew_known = sent_at is not None and original is not None
        if trust_payload_received_at:
            skew_known = skew_known and payload_received is not None
        # Segment's skew correction: the sender's clock error cancels out.
        timestamp = (
            received - (sent_at - original)  # type: ignore[operator]
            if skew_known
            else original or received
        )
        assert raw is not None
        text = raw.decode()
        message_id = event.messageId or "md5-" + hashlib.md5(raw, usedforsecurity=False).hexdigest()
        if isinstance(event, Track):
            name: str | None = event.event
        elif isinstance(event, Page | Screen):
            name = event.name
        else:
            name = None
        out.indexes.append(index)
        cols["message_id"].append(message_id)
        cols["type"].append(type(event).__struct_config__.tag)
        cols["event"].append(name)
        cols["user_id"].append(user_id)
        cols["anonymous_id"].append(anonymous_id)
        cols["previous_id"].append(_text(event.previousId) if isinstance(event, Alias) else None)
        cols["group_id"].append(_text(event.groupId) if isinstance(event, Group) else None)
        cols["channel"].append(_channel(event))
        cols["timestamp"].append(_micros(timestamp))
        cols["original_timestamp"].append(_micros(original))
        cols["sent_at"].append(_micros(sent_at))
        cols["received_at"].append(_micros(received))
        cols["payload"].append(text)
    return out
