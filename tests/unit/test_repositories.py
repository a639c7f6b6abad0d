"""Invariants 1, 3, 4 and 5 of DESIGN.md, and input validation, on the embedded profile."""

import asyncio
import uuid
from datetime import UTC

import pytest

from workbench import Message, NotFoundError, Role, ValidationError, Workbench
from workbench.models import DEFAULT_SESSION_NAME


async def test_create_list_get_rename(wb: Workbench) -> None:
    first = await wb.sessions.create_session("alice")
    second = await wb.sessions.create_session("alice", name="Pandas help")
    assert uuid.UUID(first).version == 4
    sessions = await wb.sessions.list_sessions("alice")
    assert [s.session_id for s in sessions] == [second, first]  # most recently active first
    assert sessions[1].name == DEFAULT_SESSION_NAME
    renamed = await wb.sessions.rename_session("alice", first, "  Redis caching  ")
    assert renamed.name == "Redis caching"
    assert (await wb.sessions.get_session("alice", first)).name == "Redis caching"
    assert [s.session_id for s in await wb.sessions.list_sessions("alice")] == [first, second]


async def test_history_is_complete_and_ordered(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    sent = [("system", "You are terse."), ("user", "hi"), ("assistant", "hello"), ("tool", "{}")]
    for role, content in sent:
        await wb.messages.append_message("alice", sid, role, content, metadata={"k": role})
    history = await wb.messages.get_messages("alice", sid)
    assert [(str(m.role), m.content) for m in history] == sent
    assert [m.seq for m in history] == [1, 2, 3, 4]
    assert [m.message_id for m in history] == [f"msg_{sid}_{i}" for i in (1, 2, 3, 4)]
    assert all(m.timestamp.tzinfo == UTC for m in history)
    assert history[2].metadata == {"k": "assistant"}
    assert history[1].to_dict() == {"role": "user", "content": "hi", "timestamp": history[1].timestamp.isoformat()}
    assert (await wb.sessions.get_session("alice", sid)).message_count == 4


async def test_last_reads_only_the_newest_messages_in_order(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    for i in range(1, 8):
        await wb.messages.append_message("alice", sid, "user", f"m{i}")
    assert [m.seq for m in await wb.messages.get_messages("alice", sid, last=3)] == [5, 6, 7]
    assert [m.content for m in await wb.messages.get_messages("alice", sid, last=1)] == ["m7"]
    assert len(await wb.messages.get_messages("alice", sid, last=50)) == 7
    empty = await wb.sessions.create_session("alice")
    assert await wb.messages.get_messages("alice", empty, last=5) == []
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValidationError):
            await wb.messages.get_messages("alice", sid, last=bad)
    with pytest.raises(NotFoundError):
        await wb.messages.get_messages("mallory", sid, last=3)


async def test_fifty_concurrent_writers_get_contiguous_seq(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    results = await asyncio.gather(
        *(wb.messages.append_message("alice", sid, "user", f"message {i}") for i in range(50))
    )
    assert sorted(m.seq for m in results) == list(range(1, 51))
    history = await wb.messages.get_messages("alice", sid)
    assert [m.seq for m in history] == list(range(1, 51))
    assert len({m.message_id for m in history}) == 50
    by_seq = {m.seq: m.content for m in results}
    assert [m.content for m in history] == [by_seq[i] for i in range(1, 51)]


async def test_two_processes_share_one_store(wb: Workbench, tmp_path) -> None:
    sid = await wb.sessions.create_session("alice")
    async with Workbench.open(profile="embedded", data_dir=wb.settings.data_dir) as other:
        await asyncio.gather(
            *(w.messages.append_message("alice", sid, "user", f"m{i}") for i in range(20) for w in (wb, other))
        )
        assert [m.seq for m in await other.messages.get_messages("alice", sid)] == list(range(1, 41))


async def test_other_users_sessions_are_unreachable(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice", name="private")
    await wb.messages.append_message("alice", sid, "user", "secret")
    calls = [
        wb.sessions.get_session("mallory", sid),
        wb.sessions.rename_session("mallory", sid, "mine"),
        wb.sessions.delete_session("mallory", sid),
        wb.messages.append_message("mallory", sid, "user", "injected"),
        wb.messages.get_messages("mallory", sid),
    ]
    for call in calls:
        with pytest.raises(NotFoundError) as caught:
            await call
        assert "secret" not in str(caught.value) and "private" not in str(caught.value)
    assert await wb.sessions.list_sessions("mallory") == []
    history = await wb.messages.get_messages("alice", sid)
    assert [m.content for m in history] == ["secret"]
    assert (await wb.sessions.get_session("alice", sid)).name == "private"


async def test_unknown_session_is_not_found(wb: Workbench) -> None:
    with pytest.raises(NotFoundError):
        await wb.messages.get_messages("alice", str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        await wb.messages.append_message("alice", str(uuid.uuid4()), "user", "x")


async def test_deleted_session_is_gone_from_every_read(wb: Workbench) -> None:
    keep = await wb.sessions.create_session("alice")
    gone = await wb.sessions.create_session("alice")
    await wb.messages.append_message("alice", gone, "user", "bye")
    await wb.sessions.delete_session("alice", gone)
    assert [s.session_id for s in await wb.sessions.list_sessions("alice")] == [keep]
    for call in (
        wb.sessions.get_session("alice", gone),
        wb.messages.get_messages("alice", gone),
        wb.messages.append_message("alice", gone, "user", "again"),
        wb.sessions.rename_session("alice", gone, "x"),
        wb.sessions.delete_session("alice", gone),
    ):
        with pytest.raises(NotFoundError):
            await call


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("alice", "SID", "wizard", "x"), "unknown role"),
        (("alice", "SID", "user", ""), "empty"),
        (("alice", "SID", "user", " \n\t "), "empty"),
        (("alice", "SID", "user", 42), "must be a string"),
        (("alice", "SID", "user", "a\x00b"), "NUL"),
        (("alice", "SID", "user", "\ud800"), "surrogate"),
        (("alice", "not-a-uuid", "user", "x"), "not a UUID"),
        (("alice", None, "user", "x"), "must be a string"),
        (("", "SID", "user", "x"), "must not be empty"),
        ((None, "SID", "user", "x"), "must be a string"),
    ],
)
async def test_bad_input_is_rejected_and_nothing_written(wb: Workbench, args, fragment) -> None:
    sid = await wb.sessions.create_session("alice")
    args = tuple(sid if a == "SID" else a for a in args)
    with pytest.raises(ValidationError, match=fragment):
        await wb.messages.append_message(*args)
    assert await wb.messages.get_messages("alice", sid) == []


async def test_bad_metadata_and_names(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    with pytest.raises(ValidationError, match="JSON"):
        await wb.messages.append_message("alice", sid, "user", "x", metadata={"f": object()})
    with pytest.raises(ValidationError, match="string keys"):
        await wb.messages.append_message("alice", sid, "user", "x", metadata={1: "a"})
    with pytest.raises(ValidationError):
        await wb.sessions.create_session("alice", name="   ")
    with pytest.raises(ValidationError):
        await wb.sessions.rename_session("alice", sid, "x" * 300)
    assert await wb.messages.get_messages("alice", sid) == []
    assert len(await wb.sessions.list_sessions("alice")) == 1


async def test_content_size_limit_is_configurable(tmp_path) -> None:
    async with Workbench.open(data_dir=tmp_path, max_content_bytes=10) as small:
        sid = await small.sessions.create_session("alice")
        await small.messages.append_message("alice", sid, "user", "x" * 10)
        with pytest.raises(ValidationError, match="limit is 10 bytes"):
            await small.messages.append_message("alice", sid, "user", "数据分析")  # 12 bytes
        assert len(await small.messages.get_messages("alice", sid)) == 1


async def test_default_limit_is_one_mebibyte(wb: Workbench) -> None:
    sid = await wb.sessions.create_session("alice")
    await wb.messages.append_message("alice", sid, "user", "数" * (1024 * 1024 // 3))
    with pytest.raises(ValidationError):
        await wb.messages.append_message("alice", sid, "user", "x" * (1024 * 1024 + 1))


@pytest.mark.parametrize(
    "content",
    [
        "我想学习数据分析，机器学习模型怎么选？",
        "emoji 🚀🔥👩‍💻 and flags 🇨🇳",
        "مرحبا بالعالم — right to left",
        "'; DROP TABLE sessions; --",
        'title:(foo OR bar) AND "x" \\ % _ ? :name $1',
        "tabs\tand\r\nnewlines\x07\x1b[31m",
        "x" * 70_000,
        "数" * 11_000,
    ],
)
async def test_content_round_trips_byte_for_byte(wb: Workbench, content: str) -> None:
    sid = await wb.sessions.create_session("alice", name=content[:200])
    message = await wb.messages.append_message("alice", sid, Role.USER, content)
    [stored] = await wb.messages.get_messages("alice", sid)
    assert isinstance(stored, Message)
    assert stored.content.encode() == content.encode() == message.content.encode()
    assert (await wb.sessions.get_session("alice", sid)).name == content[:200].strip()
