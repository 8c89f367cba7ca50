"""Judge raw events: the valid ones become normalized columns, the others a field and a reason.

One function for every door (HTTP collector, NDJSON, CSV and Parquet importers), so an event is
accepted or refused by the same rules wherever it came from. The raw text is what gets stored,
so fields we do not know are never dropped.
"""

from __future__ import annotations

import hashlib
import math
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
    """The valid events of a batch, as an Arrow table ready to append, and the rejected ones."""

    valid: pa.Table = field(default_factory=lambda: EVENT_SCHEMA.empty_table())
    indexes: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def n_valid(self) -> int:
        return len(self.indexes)

    def table(self) -> pa.Table:
        return self.valid


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


class _InvalidError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_STAGED = (
    "idx",
    "message_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "previous_id",
    "group_id",
    "channel_raw",
    "ts_raw",
    "ts_field",
    "sent_raw",
    "recv_raw",
    "payload",
)


@dataclass
class Staged:
    """A batch after the per-event checks, waiting for the batch-wide step (`finish`)."""

    columns: dict[str, list[object]]
    rejected: list[Rejection]
    now: datetime
    trust: bool


def stage(
    raws: list[bytes | None],
    received_at: datetime | None = None,
    trust_payload_received_at: bool = False,
    default_sent_at: str | None = None,
    start_index: int = 0,
) -> Staged:
    """Decode and check each event (msgspec, in C); times are checked in `finish`."""
    staged: dict[str, list[object]] = {name: [] for name in _STAGED}
    rejected: list[Rejection] = []
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
        except _InvalidError as invalid:
            text = raw.decode("utf-8", "replace") if raw is not None else ""
            rejected.append(Rejection(index, invalid.field, invalid.reason, text))
            continue
        if isinstance(event, Track):
            name: str | None = event.event
        elif isinstance(event, Page | Screen):
            name = event.name
        else:
            name = None
        staged["idx"].append(index)
        staged["message_id"].append(
            event.messageId or "md5-" + hashlib.md5(raw, usedforsecurity=False).hexdigest()
        )
        staged["type"].append(type(event).__struct_config__.tag)
        staged["event"].append(name)
        staged["user_id"].append(user_id)
        staged["anonymous_id"].append(anonymous_id)
        staged["previous_id"].append(_text(event.previousId) if isinstance(event, Alias) else None)
        staged["group_id"].append(_text(event.groupId) if isinstance(event, Group) else None)
        context = event.context
        staged["channel_raw"].append((context.channel if context else None) or event.channel)
        staged["ts_raw"].append(event.timestamp or event.originalTimestamp)
        staged["ts_field"].append("timestamp" if event.timestamp else "originalTimestamp")
        staged["sent_raw"].append(event.sentAt or default_sent_at)
        staged["recv_raw"].append(event.receivedAt)
        staged["payload"].append(raw.decode())
    return Staged(staged, rejected, received_at or datetime.now(UTC), trust_payload_received_at)


def _micros(value: str | None) -> int | None:
    """Microseconds since the epoch of an ISO-8601 text (naive means UTC); ValueError if not."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp()) * 1_000_000 + moment.microsecond


def _channel(raw: str | None) -> str:
    name = (raw or "").lower()
    return name if name in _CHANNEL_SET else SDK_CHANNEL_ALIASES.get(name, "other")


_CHANNEL_SET = frozenset(CHANNELS)
_TIME_FIELDS = (("ts_raw", None), ("sent_raw", "sentAt"), ("recv_raw", "receivedAt"))


def finish(parts: list[Staged]) -> list[Judgement]:
    """Times, clock skew (Segment's rule) and channels of staged batches, then Arrow columns.

    Run by the collector's writer on a whole group of requests at once, off the event loop."""
    out: list[Judgement] = []
    for part in parts:
        judgement = Judgement(rejected=list(part.rejected))
        c = part.columns
        now = math.floor(part.now.timestamp()) * 1_000_000 + part.now.microsecond
        keep: list[int] = []
        stamps: list[int] = []
        originals: list[int | None] = []
        sents: list[int | None] = []
        receiveds: list[int] = []
        for row in range(len(c["idx"])):
            times: list[int | None] = []
            bad: tuple[str, str] | None = None
            for column, name in _TIME_FIELDS:
                text = c[column][row]
                try:
                    times.append(_micros(text))  # type: ignore[arg-type]
                except (ValueError, TypeError):
                    bad = (name or str(c["ts_field"][row]), str(text))
                    break
            if bad is not None:
                judgement.rejected.append(
                    Rejection(
                        int(c["idx"][row]),  # type: ignore[call-overload]
                        bad[0],
                        f"is not an ISO-8601 timestamp: {bad[1][:40]!r}",
                        str(c["payload"][row]),
                    )
                )
                continue
            original, sent, payload_received = times
            received = (payload_received if part.trust else None) or now
            skew_known = sent is not None and original is not None
            if part.trust:
                skew_known = skew_known and payload_received is not None
            stamp = (
                received - (sent - original)  # type: ignore[operator]
                if skew_known
                else original
                if original is not None
                else received
            )
            keep.append(row)
            stamps.append(stamp)
            originals.append(original)
            sents.append(sent)
            receiveds.append(received)

        def take(
            column: str, c: dict[str, list[object]] = c, keep: list[int] = keep
        ) -> list[object]:
            values = c[column]
            return values if len(keep) == len(values) else [values[i] for i in keep]

        micros = pa.int64()
        judgement.valid = pa.Table.from_arrays(
            [
                pa.array(take("message_id"), pa.string()),
                pa.array(take("type"), pa.string()),
                pa.array(take("event"), pa.string()),
                pa.array(take("user_id"), pa.string()),
                pa.array(take("anonymous_id"), pa.string()),
                pa.array(take("previous_id"), pa.string()),
                pa.array(take("group_id"), pa.string()),
                pa.array([_channel(v) for v in take("channel_raw")], pa.string()),  # type: ignore[arg-type]
                pa.array(stamps, micros).cast(EVENT_SCHEMA.field("timestamp").type),
                pa.array(originals, micros).cast(EVENT_SCHEMA.field("timestamp").type),
                pa.array(sents, micros).cast(EVENT_SCHEMA.field("timestamp").type),
                pa.array(receiveds, micros).cast(EVENT_SCHEMA.field("timestamp").type),
                pa.array(take("payload"), pa.string()),
            ],
            schema=EVENT_SCHEMA,
        )
        judgement.indexes = [int(i) for i in take("idx")]  # type: ignore[call-overload]
        judgement.rejected.sort(key=lambda r: r.index)
        out.append(judgement)
    return out


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
    staged = stage(raws, received_at, trust_payload_received_at, default_sent_at, start_index)
    return finish([staged])[0]
