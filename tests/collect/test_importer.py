"""File imports (NDJSON, CSV, Parquet): the same judge as the collector, errors by row,
idempotent on a second run, and resumable after a failure part-way."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from clientcore.collect import ImportFileError
from clientcore.collect import importer as importer_module
from clientcore.collect.importer import import_events
from clientcore.store import AppendOutcome, ImportCheckpoint, RejectedEvent, Store, StoreError


def _track(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m-{i}",
        "userId": f"u-{i % 3}",
        "timestamp": f"2024-05-01T10:{i % 60:02d}:00Z",
        "properties": {"order_id": f"o-{i}", "revenue": 10.0 + i},
        **extra,
    }


def _ndjson(path: Path, events: Sequence[dict[str, Any] | bytes]) -> Path:
    lines = [e if isinstance(e, bytes) else orjson.dumps(e) for e in events]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _stored(store: Store) -> list[str]:
    return sorted(r[0] for r in store.query("SELECT message_id FROM events"))


def _rejected(store: Store) -> list[tuple[Any, ...]]:
    return store.query("SELECT position, field, origin, source FROM rejected_events ORDER BY id")


def test_ndjson_import_reports_errors_by_line(store: Store, tmp_path: Path) -> None:
    path = _ndjson(
        tmp_path / "events.ndjson",
        [
            _track(1),
            _track(2),
            {"type": "track", "messageId": "m-3", "userId": "u"},  # line 3: no event
            b"{not json",  # line 4
            _track(5, timestamp="last tuesday"),  # line 5
            _track(6, userId=None),  # line 6: nobody
            _track(7),
            b"\xff\xfe not utf-8",  # line 8
            _track(9),
        ],
    )

    report = import_events(store, path, source="shop")

    assert report.format == "ndjson"
    assert (report.rows, report.inserted, report.duplicates, report.rejected) == (9, 4, 0, 5)
    assert [(e["row"], e["field"]) for e in report.errors] == [
        (3, "event"),
        (4, "$"),
        (5, "timestamp"),
        (6, "userId"),
        (8, "$"),
    ]
    assert _stored(store) == ["m-1", "m-2", "m-7", "m-9"]
    origin = f"import:{path.resolve()}"
    assert _rejected(store) == [
        (3, "event", origin, "shop"),
        (4, "$", origin, "shop"),
        (5, "timestamp", origin, "shop"),
        (6, "userId", origin, "shop"),
        (8, "$", origin, "shop"),
    ]
    assert {r[0] for r in store.query("SELECT source FROM events")} == {"shop"}


def test_an_import_keeps_the_files_received_at(store: Store, tmp_path: Path) -> None:
    event = _track(1, receivedAt="2023-01-02T03:04:05Z", sentAt="2023-01-02T03:04:00Z")
    event["timestamp"] = "2023-01-02T03:03:00Z"
    path = _ndjson(tmp_path / "old.jsonl", [event])
    assert import_events(store, path).inserted == 1
    ((received, timestamp),) = store.query("SELECT received_at, timestamp FROM events")
    assert received.isoformat().startswith("2023-01-02T03:04:05")
    # Clock skew corrected against the file's receivedAt: 1 minute before sentAt.
    assert timestamp.isoformat().startswith("2023-01-02T03:03:05")


def test_csv_import_nests_dotted_columns_and_json_text(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "pos.csv"
    path.write_text(
        "type,event,userId,anonymousId,messageId,timestamp,properties.price,"
        "properties.order_id,properties.coupon.code,context\n"
        "track,Order Completed,42,,c-1,2024-05-01T10:00:00Z,19.9,1001,SPRING,"
        '"{""channel"": ""store"", ""store_id"": ""S-7""}"\n'
        "track,,42,,c-2,2024-05-01T10:01:00Z,5,1002,,\n"
        'identify,,,anon-9,c-3,2024-05-01T10:02:00Z,,,,"{""channel"": ""web""}"\n'
        "page,,,,c-4,2024-05-01T10:03:00Z,,,,\n"
        "track,Product Returned,0042,,c-5,not-a-time,1.5,1003,,\n"
        "track,Order Completed,43,,c-6,2024-05-01T10:05:00Z,7.25,1004,,not json\n",
        encoding="utf-8",
    )

    report = import_events(store, path)

    assert report.format == "csv"
    assert (report.rows, report.inserted, report.rejected) == (6, 2, 4)
    assert [(e["row"], e["field"]) for e in report.errors] == [
        (2, "event"),
        (4, "userId"),
        (5, "timestamp"),
        (6, "context"),
    ]
    rows = store.query(
        "SELECT message_id, type, user_id, anonymous_id, channel, CAST(payload AS TEXT) "
        "FROM events ORDER BY seq"
    )
    assert [r[:5] for r in rows] == [
        ("c-1", "track", "42", None, "store"),
        ("c-3", "identify", None, "anon-9", "web"),
    ]
    first = orjson.loads(rows[0][5])
    assert first["properties"] == {"price": 19.9, "order_id": 1001, "coupon": {"code": "SPRING"}}
    assert first["context"] == {"channel": "store", "store_id": "S-7"}
    assert first["userId"] == "42"  # ids stay text, even when they look like numbers
    # A row number is the data row (the header is not a row).
    assert [r[0] for r in _rejected(store)] == [2, 4, 5, 6]


def test_parquet_import(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    table = pa.table(
        {
            "type": ["track", "track", "identify", "alias"],
            "event": ["Product Viewed", None, None, None],
            "userId": ["u-1", "u-2", "u-3", "u-4"],
            "previousId": [None, None, None, "anon-4"],
            "messageId": ["p-1", "p-2", "p-3", "p-4"],
            "timestamp": pa.array(
                [1_714_557_600_000_000] * 4, pa.timestamp("us", tz="UTC")
            ),  # 2024-05-01T10:00:00Z
            "properties": pa.array(
                [{"price": 3.5, "sku": "A"}, {"price": 1.0, "sku": "B"}, None, None],
                pa.struct([("price", pa.float64()), ("sku", pa.string())]),
            ),
            "traits": [None, None, '{"email": "x@example.com"}', None],
        }
    )
    pq.write_table(table, path)

    report = import_events(store, path)

    assert report.format == "parquet"
    assert (report.rows, report.inserted, report.rejected) == (4, 3, 1)
    assert report.errors == [{"row": 2, "field": "event", "reason": "is required for track calls"}]
    rows = store.query(
        "SELECT message_id, type, previous_id, timestamp, CAST(payload AS TEXT) FROM events "
        "ORDER BY seq"
    )
    assert [r[:3] for r in rows] == [
        ("p-1", "track", None),
        ("p-3", "identify", None),
        ("p-4", "alias", "anon-4"),
    ]
    assert rows[0][3].isoformat().startswith("2024-05-01T10:00:00")
    assert orjson.loads(rows[0][4])["properties"] == {"price": 3.5, "sku": "A"}
    assert orjson.loads(rows[1][4])["traits"] == {"email": "x@example.com"}


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_importing_the_same_file_again_stores_nothing_new(
    store: Store, tmp_path: Path, fmt: str
) -> None:
    events = [_track(i) for i in range(5)] + [{"type": "track", "userId": "u", "messageId": "x"}]
    path = tmp_path / f"events.{fmt}"
    if fmt == "ndjson":
        _ndjson(path, events)
    else:
        flat = pa.table(
            {
                "type": [e["type"] for e in events],
                "event": [e.get("event") for e in events],
                "userId": [e["userId"] for e in events],
                "messageId": [e["messageId"] for e in events],
            }
        )
        if fmt == "csv":
            pacsv.write_csv(flat, path)
        else:
            pq.write_table(flat, path)

    first = import_events(store, path)
    again = import_events(store, path)

    assert (first.inserted, first.rejected, first.already_done) == (5, 1, False)
    assert again.already_done is True
    assert again.inserted == 0
    assert store.query("SELECT count(*) FROM events") == [(5,)]
    assert store.query("SELECT count(*) FROM rejected_events") == [(1,)]
    # A copy of the file elsewhere is the same content: nothing new either.
    copy = tmp_path / "copy" / path.name
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    assert import_events(store, copy).already_done is True
    # Under another source it is another stream of events.
    assert import_events(store, path, source="backfill").inserted == 5


def test_a_file_imported_with_the_wrong_format_can_be_imported_with_the_right_one(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "export.txt"
    path.write_text("type,event,userId,messageId\ntrack,Cart Viewed,u-1,t-1\n")
    wrong = import_events(store, path, "ndjson")
    assert (wrong.inserted, wrong.rejected) == (0, 2)

    right = import_events(store, path, "csv")

    assert right.already_done is False
    assert right.inserted == 1
    assert _stored(store) == ["t-1"]


class _FailingStore:
    """A store whose Nth append fails after writing, inside its transaction (nothing of that
    append may survive); every other call goes to the real store."""

    def __init__(self, inner: Store, fail_on: int) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.appends = 0

    def append_events(
        self,
        events: pa.Table,
        rejected: Sequence[RejectedEvent] = (),
        checkpoint: ImportCheckpoint | None = None,
    ) -> AppendOutcome:
        self.appends += 1
        if self.appends != self.fail_on:
            return self.inner.append_events(events, rejected, checkpoint)
        with self.inner.transaction():
            self.inner.append_events(events, rejected, checkpoint)
            raise StoreError("the disk filled up before the commit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _write(path: Path, fmt: str, events: list[dict[str, Any]]) -> None:
    if fmt == "ndjson":
        _ndjson(path, events)
        return
    flat = pa.table(
        {
            "type": [e["type"] for e in events],
            "event": [e.get("event") for e in events],
            "userId": [e.get("userId") for e in events],
            "messageId": [e["messageId"] for e in events],
        }
    )
    pq.write_table(flat, path, row_group_size=4)


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_an_interrupted_import_resumes_from_its_checkpoint(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr(importer_module, "CHUNK_ROWS", 4)
    events = [_track(i) for i in range(1, 12)]
    events[5] = {"type": "track", "messageId": "m-6", "userId": "u"}  # row 6: no event
    events[9] = dict(events[2])  # row 10: a duplicate of row 3
    path = tmp_path / f"big.{fmt}"
    _write(path, fmt, events)
    flaky = _FailingStore(store, fail_on=2)

    with pytest.raises(StoreError, match="disk filled"):
        import_events(flaky, path)  # type: ignore[arg-type]

    # Rows 1-4 are committed with their checkpoint; nothing of rows 5-8 got in.
    assert _stored(store) == ["m-1", "m-2", "m-3", "m-4"]
    assert store.query("SELECT count(*) FROM rejected_events") == [(0,)]

    report = import_events(store, path)

    assert report.resumed_from_row == 4
    assert report.already_done is False
    assert (report.rows, report.inserted, report.duplicates, report.rejected) == (7, 5, 1, 1)
    assert report.errors == [{"row": 6, "field": "event", "reason": "is required for track calls"}]
    expected = sorted(f"m-{i}" for i in range(1, 12) if i not in (6, 10))
    assert _stored(store) == expected
    counts = store.query("SELECT message_id, count(*) FROM events GROUP BY 1 HAVING count(*) > 1")
    assert counts == []
    assert [r[0] for r in _rejected(store)] == [6]
    assert import_events(store, path).already_done is True


def test_a_failure_in_the_first_chunk_leaves_the_import_to_start_over(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer_module, "CHUNK_ROWS", 3)
    path = _ndjson(tmp_path / "events.ndjson", [_track(i) for i in range(7)])
    with pytest.raises(StoreError):
        import_events(_FailingStore(store, fail_on=1), path)  # type: ignore[arg-type]
    assert _stored(store) == []
    report = import_events(store, path)
    assert (report.resumed_from_row, report.inserted) == (0, 7)


def test_the_format_comes_from_the_extension_or_must_be_given(store: Store, tmp_path: Path) -> None:
    path = _ndjson(tmp_path / "events.log", [_track(1)])
    with pytest.raises(ImportFileError, match="--format") as caught:
        import_events(store, path)
    assert caught.value.field == "format"
    with pytest.raises(ImportFileError, match="ndjson, csv, parquet"):
        import_events(store, path, "xml")
    assert store.query("SELECT count(*) FROM events") == [(0,)]
    assert store.query("SELECT count(*) FROM imports") == [(0,)]
    assert import_events(store, path, "ndjson").inserted == 1


def test_unreadable_and_empty_files_are_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        import_events(store, tmp_path / "missing.ndjson")
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n\n")
    with pytest.raises(ImportFileError, match="no events"):
        import_events(store, empty)
    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_text("type,event\n")
    with pytest.raises(ImportFileError, match="Parquet"):
        import_events(store, not_parquet)
    assert store.query("SELECT count(*) FROM events") == [(0,)]
