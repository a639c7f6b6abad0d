"""Merging the seed's two kinds of legacy Elasticsearch document into one ordered history."""

from datetime import UTC, datetime

from workbench.legacy import merge_legacy_history

SID = "0b3c1f7e-4a8e-4f0e-9a55-4b0e7b3c2d11"
CREATED = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _session_doc(messages: list[object]) -> dict[str, object]:
    return {"_id": f"alice_{SID}", "_source": {"user_id": "alice", "session_id": SID, "messages": messages}}


def _message_doc(ms: int, role: str, content: str, timestamp: object) -> dict[str, object]:
    source = {"user_id": "alice", "session_id": SID, "role": role, "content": content, "timestamp": timestamp}
    return {"_id": f"msg_{SID}_{ms}", "_source": {**source, "message_order": 0}}


def test_both_kinds_merge_by_time_then_position_and_dedupe() -> None:
    hits = [
        _message_doc(1714554060000, "assistant", "second", "2024-05-01T09:01:00"),
        _session_doc(
            [
                {"role": "user", "content": "first", "ts": "2024-05-01T09:00:30"},
                {"role": "assistant", "content": "second", "timestamp": "2024-05-01T09:01:00"},  # same as the doc
                {"role": "user", "content": "same instant A", "timestamp": "2024-05-01T09:02:00"},
                {"role": "user", "content": "same instant B", "timestamp": "2024-05-01T09:02:00"},
            ]
        ),
        _message_doc(1714554180000, "user", "later, epoch ms", 1714554180000),
    ]
    history = merge_legacy_history(hits, session_created_at=CREATED)
    assert [m.content for m in history.messages] == [
        "first",
        "second",
        "same instant A",
        "same instant B",
        "later, epoch ms",
    ]
    assert history.duplicates == 1 and history.invalid == 0
    assert history.messages[0].timestamp == datetime(2024, 5, 1, 9, 0, 30, tzinfo=UTC)  # naive means UTC
    assert history.messages[0].legacy_id == f"alice_{SID}#messages[0]"
    assert history.messages[-1].legacy_id == f"msg_{SID}_1714554180000"


def test_invalid_items_are_counted_and_untimed_ones_take_the_session_time() -> None:
    hits = [
        _session_doc(
            [
                {"role": "robot", "content": "x"},
                {"role": "user", "content": "   "},
                "not an object",
                {"role": "user", "content": "no time"},
            ]
        )
    ]
    history = merge_legacy_history(hits, session_created_at=CREATED)
    assert history.invalid == 3
    assert [(m.content, m.timestamp) for m in history.messages] == [("no time", CREATED)]
