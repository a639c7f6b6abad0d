"""The chat widget, the session browser and ``%%chat``, driven from Python against the fake OpenAI server."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from tests.openai_server import FakeOpenAIServer
from workbench import Workbench
from workbench.formats import read_conversations
from workbench.sample import load_sample
from workbench.widgets import ChatController, ChatWidget, SessionBrowser, SessionBrowserWidget, SessionFilter
from workbench.widgets.magic import ChatMagics, chat_cell_transformer
from workbench.widgets.render import markdown_to_html, turn_info

SLOW = "slow-stream:delay=0.03,tokens=400"
USER = "u_widget"


@pytest.fixture
async def chat_wb(tmp_path: Path, openai_server: FakeOpenAIServer) -> AsyncIterator[Workbench]:
    """An embedded workbench whose model endpoint is the fake server (model ``echo``, no retries)."""
    settings = {"openai_base_url": openai_server.base_url, "model": "echo", "llm_max_retries": 0}
    async with Workbench.open(profile="embedded", data_dir=tmp_path / "store", **settings) as wb:
        yield wb


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the sample conversations, loaded once for the module."""
    folder = tmp_path_factory.mktemp("sample") / "store"

    async def load() -> None:
        async with Workbench.open(profile="embedded", data_dir=folder) as wb:
            await load_sample(wb, progress=False)

    asyncio.run(load())
    return folder


@pytest.fixture
async def sample_wb(sample_dir: Path, tmp_path: Path) -> AsyncIterator[Workbench]:
    """A workbench on a private copy of the sample store."""
    copy = tmp_path / "sample"
    shutil.copytree(sample_dir, copy)
    async with Workbench.open(profile="embedded", data_dir=copy) as wb:
        yield wb


async def until(chat: ChatController, condition: Callable[[], object]) -> None:
    """Wait, event by event of ``chat``, until ``condition()`` holds (10 s at most)."""
    changed = asyncio.Event()
    chat.subscribe(lambda _: changed.set())
    async with asyncio.timeout(10):
        while not condition():
            changed.clear()
            await changed.wait()


# -- rendering --


def test_markdown_escapes_html_and_keeps_code_and_chinese() -> None:
    text = "数据**分析** <script>alert(1)</script> [x](javascript:alert(1))\n\n```python\nx = '<b>'\n```"
    html = markdown_to_html(text)
    assert "<strong>分析</strong>" in html and "数据" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html
    assert '<pre><code class="language-python">x = &#x27;&lt;b&gt;&#x27;' in html or "x = '&lt;b&gt;'" in html


def test_turn_info_names_model_tokens_and_times() -> None:
    info = turn_info({"model": "m", "prompt_tokens": 3, "completion_tokens": 5, "ttft_ms": 12, "latency_ms": 1500})
    assert info == "m · 3 → 5 tokens · first token 12 ms · total 1,500 ms"
    assert turn_info({"model": "m", "interrupted": True}).endswith("· interrupted")
    assert turn_info({}) == ""


# -- the controller --


async def test_reply_streams_into_the_transcript_piece_by_piece(chat_wb: Workbench) -> None:
    chat = ChatController(chat_wb, USER)
    seen: list[str] = []
    chat.subscribe(lambda event: seen.append(chat.transcript[-1].content) if event == "delta" else None)

    reply = await chat.send("Explain `groupby` in pandas, 用中文也可以")

    assert reply is not None and reply.content == "echo: Explain `groupby` in pandas, 用中文也可以"
    assert len(seen) >= 5 and seen == sorted(seen, key=len) and seen[-1] == reply.content  # grew in steps
    assert chat.session is not None and chat.session.name == "Explain `groupby` in pandas, 用中文也可以"
    assert [t.role for t in chat.transcript] == ["user", "assistant"]
    assert chat.transcript[-1].info.startswith("echo · ") and "first token" in chat.transcript[-1].info
    assert chat.status.kind == "info" and chat.status.text == chat.transcript[-1].info
    assert reply.metadata["model"] == "echo" and reply.metadata["completion_tokens"] > 0


async def test_the_loop_stays_free_while_a_reply_streams(chat_wb: Workbench) -> None:
    chat = ChatController(chat_wb, USER, model="slow-stream:delay=0.02,tokens=25")
    task = chat.submit("take your time")
    assert not task.done() and chat.transcript == []  # submit returns at once
    ticks = 0
    while not task.done():
        ticks += 1
        await asyncio.sleep(0.005)
    assert ticks > 20  # other work ran all along
    assert chat.transcript[-1].content.startswith("t0 t1 ")


async def test_stop_keeps_the_partial_reply_marked_interrupted(chat_wb: Workbench) -> None:
    chat = ChatController(chat_wb, USER, model=SLOW)
    task = chat.submit("a long answer please")
    await until(chat, lambda: chat.transcript and chat.transcript[-1].content.count(" ") >= 3)
    assert chat.streaming and chat.stop()

    stored = await task
    assert not chat.streaming
    assert stored is not None and stored.metadata["interrupted"] is True
    assert stored.content.startswith("t0 t1 t2 ") and len(stored.content.split()) < 400
    history = await chat_wb.messages.get_messages(USER, chat.session.session_id)  # type: ignore[union-attr]
    assert [m.role for m in history] == ["user", "assistant"] and history[-1] == stored
    assert chat.transcript[-1].interrupted and chat.transcript[-1].info.endswith("interrupted")
    assert "interrupted" in chat.status.text and not chat.stop()


async def test_stop_before_any_text_keeps_only_the_question(chat_wb: Workbench) -> None:
    chat = ChatController(chat_wb, USER, model="stall")  # the server never answers
    task = chat.submit("hello?")
    await until(chat, lambda: chat.streaming)
    await asyncio.sleep(0.2)
    assert chat.stop()
    assert await task is None
    assert chat.status.text == "Stopped: no text had arrived." and not chat.streaming
    assert [(t.role, t.content) for t in chat.transcript] == [("user", "hello?")]


async def test_a_failing_model_shows_in_the_status_not_as_an_exception(chat_wb: Workbench) -> None:
    chat = ChatController(chat_wb, USER, model="error-500")
    assert await chat.send("hello?") is None
    assert chat.status.kind == "error" and "500" in chat.status.text
    assert [(t.role, t.content) for t in chat.transcript] == [("user", "hello?")]  # the question stays


async def test_without_an_endpoint_the_status_says_how_to_configure(tmp_path: Path) -> None:
    wb = Workbench.open(profile="embedded", data_dir=tmp_path / "store")  # no OPENAI_BASE_URL, no key
    chat = ChatController(wb, USER)
    assert chat.status.kind == "error" and "OPENAI_BASE_URL" in chat.status.text
    assert await chat.send("hi") is None and chat.transcript == [] and chat.session is None
    await wb.aclose()


async def test_empty_text_and_a_second_send_while_streaming_are_refused(chat_wb: Workbench) -> None:
    chat = ChatController(chat_wb, USER, model=SLOW)
    assert await chat.send("   ") is None and chat.status.text == "Type a message first."
    task = chat.submit("first")
    await until(chat, lambda: chat.streaming and chat.transcript[-1].content)  # text shows once "first" is stored
    assert await chat.send("second") is None and "still streaming" in chat.status.text
    chat.stop()
    await task


async def test_new_rename_select_and_delete_after_confirmation(chat_wb: Workbench) -> None:
    chat = ChatController(chat_wb, USER)
    first = await chat.new_session("First")
    await chat.send("in the first one")
    second = await chat.new_session()
    assert first is not None and second is not None and chat.session == second and chat.transcript == []
    await chat.rename("Second, renamed")
    assert [s.name for s in chat.sessions] == ["Second, renamed", "First"]
    await chat.rename("  ")
    assert chat.status.kind == "error" and chat.session.name == "Second, renamed"  # type: ignore[union-attr]

    await chat.select(first.session_id)
    assert [t.content for t in chat.transcript] == ["in the first one", "echo: in the first one"]

    await chat.confirm_delete()  # no request first: nothing happens
    assert chat.status.kind == "error" and len(chat.sessions) == 2
    chat.request_delete()
    assert chat.pending_delete == chat.session and "Confirm" in chat.status.text
    chat.cancel_delete()
    assert chat.pending_delete is None and len(await chat_wb.sessions.list_sessions(USER)) == 2
    chat.request_delete()
    await chat.confirm_delete()
    assert [s.name for s in await chat_wb.sessions.list_sessions(USER)] == ["Second, renamed"]
    assert chat.session is not None and chat.session.name == "Second, renamed"  # the next one is shown


async def test_another_users_session_cannot_be_opened(chat_wb: Workbench) -> None:
    theirs = await chat_wb.sessions.create_session("u_other", "private")
    chat = ChatController(chat_wb, USER)
    await chat.select(theirs)
    assert chat.session is None and chat.status.kind == "error" and "no session" in chat.status.text


# -- the widget over it --


async def test_widget_enter_sends_and_clears_the_input(chat_wb: Workbench) -> None:
    widget = ChatWidget(chat_wb, USER)
    await widget.controller.idle()
    widget.input.value = "第一行"  # typing: nothing is sent yet
    await asyncio.sleep(0.05)
    assert widget.controller.transcript == []
    widget.input.value = "第一行\n"  # Enter at the end
    assert widget.input.value == ""
    await widget.controller.idle()
    assert [t.content for t in widget.controller.transcript] == ["第一行", "echo: 第一行"]
    assert "echo: 第一行" in widget._turns[-1].value and "wb-info" in widget._turns[-1].value
    assert len(widget.session_picker.options) == 1 and widget.session_picker.value is not None


async def test_widget_send_and_stop_buttons(chat_wb: Workbench) -> None:
    widget = ChatWidget(chat_wb, USER, model=SLOW)
    await widget.controller.idle()
    assert widget.stop_button.disabled
    widget.input.value = "Tell me a **long** story"
    widget.send_button.click()
    await until(widget.controller, lambda: widget.controller.streaming and "t2" in widget._turns[-1].value)
    assert not widget.stop_button.disabled and widget.send_button.disabled
    widget.stop_button.click()
    await widget.controller.idle()
    assert "■ interrupted" in widget._turns[-1].value
    assert widget.stop_button.disabled and "interrupted" in widget.status_line.value


async def test_an_exchange_renders_only_its_own_turns(chat_wb: Workbench) -> None:
    sid = await chat_wb.sessions.create_session(USER, "long")
    for i in range(30):
        await chat_wb.messages.append_message(USER, sid, "user" if i % 2 == 0 else "assistant", f"turn {i}")
    widget = ChatWidget(chat_wb, USER)
    await widget.controller.idle()
    history = list(widget._turns)
    assert len(history) == 30

    widget.input.value = "one more\n"
    await widget.controller.idle()

    assert widget._turns[:30] == history  # the same widgets, not rendered again
    assert len(widget._turns) == 32 and widget.transcript.children[0] is widget._turns[-1]
    assert "echo: one more" in widget._turns[-1].value and "wb-info" in widget._turns[-1].value
    assert [t.content for t in widget.controller.transcript[-2:]] == ["one more", "echo: one more"]


async def test_the_controller_shows_what_another_writer_added_meanwhile(chat_wb: Workbench) -> None:
    chat = ChatController(chat_wb, USER, model="slow-stream:delay=0.01,tokens=20")
    await chat.new_session("shared")
    assert chat.session is not None
    task = chat.submit("first")
    await until(chat, lambda: chat.streaming and chat.transcript[-1].content)  # text shows once "first" is stored
    await chat_wb.messages.append_message(USER, chat.session.session_id, "user", "from elsewhere")
    reply = await task
    assert reply is None  # the exchange is not the newest pair any more: the whole session is shown
    contents = [t.content for t in chat.transcript]
    assert contents[0] == "first" and "from elsewhere" in contents and len(contents) == 3


async def test_callbacks_arriving_on_another_threads_loop_run_on_the_widgets_loop(chat_wb: Workbench) -> None:
    widget = ChatWidget(chat_wb, USER, model=SLOW)
    await widget.controller.idle()

    def subshell(action: Callable[[], None]) -> None:  # like an ipykernel 7 subshell: a thread, a loop of its own
        async def deliver() -> None:
            action()

        asyncio.run(deliver())

    await asyncio.to_thread(subshell, lambda: setattr(widget.input, "value", "from a subshell\n"))
    await until(widget.controller, lambda: "t2" in "".join(t.content for t in widget.controller.transcript))
    await asyncio.to_thread(subshell, widget.stop_button.click)
    await widget.controller.idle()
    assert widget.controller.transcript[-1].interrupted and widget.controller.status.kind == "info"


async def test_widget_shows_errors_and_asks_before_deleting(chat_wb: Workbench) -> None:
    widget = ChatWidget(chat_wb, USER, model="error-500")
    await widget.controller.idle()
    widget.input.value = "<b>fail</b>\n"
    await widget.controller.idle()
    assert "wb-status-error" in widget.status_line.value and "500" in widget.status_line.value
    assert "&lt;b&gt;fail&lt;/b&gt;" in widget._turns[0].value  # shown as text, not as HTML

    widget.delete_button.click()
    assert widget.confirm_row.layout.display is None and "Delete" in widget.confirm_text.value
    widget.cancel_delete_button.click()
    assert widget.confirm_row.layout.display == "none"
    widget.delete_button.click()
    widget.confirm_button.click()
    await widget.controller.idle()
    assert await chat_wb.sessions.list_sessions(USER) == [] and widget.controller.transcript == []


async def test_widget_switches_sessions_from_the_picker(chat_wb: Workbench) -> None:
    older = await chat_wb.sessions.create_session(USER, "older")
    await chat_wb.messages.append_message(USER, older, "user", "# A heading\n\n```sql\nSELECT 1;\n```")
    await chat_wb.sessions.create_session(USER, "newer")
    widget = ChatWidget(chat_wb, USER)
    await widget.controller.idle()
    assert widget.controller.session is not None and widget.controller.session.name == "newer"
    widget.session_picker.value = older
    await widget.controller.idle()
    assert "<h1>A heading</h1>" in widget._turns[0].value and 'class="language-sql"' in widget._turns[0].value


# -- %%chat --


@pytest.fixture
def shell(chat_wb: Workbench) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "workbench")
    ip.user_ns["wb"] = chat_wb
    magics = ip.magics_manager.registry["ChatMagics"]
    magics.user_id, magics.session_id = "notebook", None
    yield ip
    ip.user_ns.pop("wb", None)


async def run_cell(shell: InteractiveShell, cell: str) -> list:
    with capture_output() as captured:
        result = await shell.run_cell_async(cell, transformed_cell=shell.transform_cell(cell))
    assert result.success, result.error_in_exec
    return captured.outputs


def test_transformer_turns_a_chat_cell_into_an_await() -> None:
    assert chat_cell_transformer(["%%chat --new\n", "hi 'there'\n"]) == [
        "await get_ipython().magics_manager.registry['ChatMagics'].run('--new', \"hi 'there'\\n\")\n"
    ]
    assert chat_cell_transformer(["%%chatter\n", "x\n"]) == ["%%chatter\n", "x\n"]
    assert chat_cell_transformer(["print(1)\n"]) == ["print(1)\n"]


async def test_chat_magic_streams_and_remembers_earlier_cells(
    shell: InteractiveShell, chat_wb: Workbench, openai_server: FakeOpenAIServer
) -> None:
    outputs = await run_cell(shell, "%%chat\nWhat is a 数据 pipeline?\n")
    texts = [o.data["text/plain"] for o in outputs]
    updates = [o for o in outputs if o.update]
    assert texts[0] == "…" and len(updates) >= 4  # one display, updated as pieces arrived
    assert updates[-1].data["text/markdown"] == "echo: What is a 数据 pipeline?"
    assert texts[-1].startswith("*echo · ") and "2 messages*" in texts[-1]

    await run_cell(shell, "%%chat\nAnd a second question\n")
    sent = openai_server.chat_requests[-1]["messages"]
    assert [m["content"] for m in sent] == [
        "What is a 数据 pipeline?",
        "echo: What is a 数据 pipeline?",
        "And a second question",
    ]
    magics: ChatMagics = shell.magics_manager.registry["ChatMagics"]
    history = await magics.history()
    assert list(history["role"]) == ["user", "assistant"] * 2 and set(history["user_id"]) == {"notebook"}

    await run_cell(shell, "%%chat --new --name Fresh\nstart over\n")
    assert openai_server.chat_requests[-1]["messages"] == [{"role": "user", "content": "start over"}]
    names = sorted(s.name for s in await chat_wb.sessions.list_sessions("notebook"))
    assert names == ["Fresh", "What is a 数据 pipeline?"]


async def test_chat_magic_options_and_errors_are_shown_not_raised(shell: InteractiveShell, chat_wb: Workbench) -> None:
    outputs = await run_cell(shell, "%%chat --user u_magic --model error-500\nfail please\n")
    assert outputs[-1].data["text/plain"].startswith("**chat failed:** ") and "500" in outputs[-1].data["text/plain"]
    outputs = await run_cell(shell, '%%chat --name "unbalanced\nx\n')
    assert "No closing quotation" in outputs[-1].data["text/plain"]
    outputs = await run_cell(shell, "%%chat --bogus\nx\n")
    assert "unrecognized arguments: --bogus" in outputs[-1].data["text/plain"]
    outputs = await run_cell(shell, "%%chat --session not-a-uuid\nx\n")
    assert "not a UUID" in outputs[-1].data["text/plain"]
    outputs = await run_cell(shell, "%%chat\n   \n")
    assert "the cell is empty" in outputs[-1].data["text/plain"]
    [session] = await chat_wb.sessions.list_sessions("u_magic")
    outputs = await run_cell(shell, f"%%chat --session {session.session_id} --model echo\nagain\n")
    assert outputs[-1].data["text/plain"].endswith("3 messages*")  # the failed question stayed


async def test_interrupting_a_chat_cell_keeps_the_partial_reply(shell: InteractiveShell, chat_wb: Workbench) -> None:
    magics: ChatMagics = shell.magics_manager.registry["ChatMagics"]
    with capture_output() as captured:
        cell = asyncio.ensure_future(magics.run(f"--model {SLOW}", "a long one"))  # as ipykernel runs a cell
        await asyncio.sleep(2)  # the reply takes 12 s in all
        assert any(o.update and "t2" in o.data["text/plain"] for o in captured.outputs)
        cell.cancel()  # what interrupting the kernel does to an awaiting cell
        with pytest.raises(asyncio.CancelledError):
            await cell
    assert "stopped" in captured.outputs[-1].data["text/plain"]
    history = await magics.history()
    assert list(history["role"]) == ["user", "assistant"] and history["interrupted"].iloc[-1]
    assert history["content"].iloc[-1].startswith("t0 t1 t2 ")


async def test_chat_magic_called_as_a_function_returns_its_task(shell: InteractiveShell) -> None:
    with capture_output() as captured:
        task = shell.run_cell_magic("chat", "", "direct call")
        await task
    assert captured.outputs[-1].data["text/plain"].startswith("*echo · ")


# -- the session browser --


async def test_browser_filters_by_user_dates_text_and_metadata(sample_wb: Workbench) -> None:
    browser = SessionBrowser(sample_wb)
    everything = await browser.apply()
    stats = await sample_wb.search.session_stats()
    assert len(everything) == len(stats) == 360 and browser.selected == list(everything["session_id"])
    assert list(everything.columns) == list(stats.columns)
    assert everything["last_at"].is_monotonic_decreasing

    alice = await browser.apply(user_id="u_alice")
    assert set(alice["user_id"]) == {"u_alice"} and len(alice) == 60

    august = await browser.apply(SessionFilter(since="2026-08-01", until="2026-09-01"))
    assert len(august) > 0
    assert (august["last_at"] >= pd.Timestamp("2026-08-01", tz="UTC")).all()
    assert (august["first_at"] < pd.Timestamp("2026-09-01", tz="UTC")).all()

    chinese = await browser.apply(SessionFilter(text="数据"))
    hits = await sample_wb.search.search("数据", limit=1000)
    assert set(chinese["session_id"]) == set(hits["session_id"]) and len(chinese) > 0

    gpt4o = await browser.apply(SessionFilter(metadata={"model": "gpt-4o"}))
    for row in gpt4o.head(5).itertuples():
        history = await sample_wb.messages.get_messages(row.user_id, row.session_id)
        assert any(m.metadata.get("model") == "gpt-4o" for m in history)
    assert 0 < len(gpt4o) < 360

    combined = await browser.apply(SessionFilter(user_id="u_wang_wei", text="数据", metadata={"model": "gpt-4o"}))
    assert set(combined["session_id"]) <= set(chinese["session_id"]) & set(gpt4o["session_id"])
    assert set(combined["user_id"]) <= {"u_wang_wei"}


async def test_browser_reports_bad_filters_in_its_status(sample_wb: Workbench) -> None:
    browser = SessionBrowser(sample_wb)
    await browser.apply(user_id="u_bob")
    before = browser.table
    for bad in (
        SessionFilter(metadata={"model') OR 1=1 --": "x"}),
        SessionFilter(since="yesterday"),
        SessionFilter(text="x" * 2000),
    ):
        assert (await browser.apply(bad)).equals(before)
        assert browser.status.kind == "error"


async def test_browser_reads_and_exports_the_selection(sample_wb: Workbench, tmp_path: Path) -> None:
    browser = SessionBrowser(sample_wb)
    table = await browser.apply(user_id="u_li_na")
    browser.select([*table["session_id"][:3], "not-listed"])
    assert len(browser.selected) == 3
    expected = int(table["messages"][:3].sum())

    text = await browser.read(browser.selected[0])
    assert text is not None and text.startswith(f"# {table['name'][0]}")
    assert await browser.read("00000000-0000-4000-8000-000000000000") is None and browser.status.kind == "error"

    frame = await browser.to_dataframe()
    assert len(frame) == expected and frame["interrupted"].dtype == bool
    assert list(frame["session_id"].unique()) == browser.selected

    csv = await browser.export("csv", tmp_path / "out.csv")
    assert csv is not None and len(pd.read_csv(csv)) == expected
    jsonl = await browser.export("jsonl", tmp_path / "out.jsonl")
    assert jsonl is not None and [c.external_id for c in read_conversations(jsonl)] == [
        f"openai:{s}" for s in browser.selected
    ]
    assert sum(len(json.loads(line)["messages"]) for line in jsonl.read_text().splitlines()) == expected
    md = await browser.export("markdown", tmp_path / "out.md")
    assert md is not None and md.read_text().count("\n\n---\n\n") == 2 and md.read_text().startswith("# ")
    default = await browser.export("jsonl")
    assert default is not None and default.parent == sample_wb.settings.data_dir / "exports"
    assert await browser.export("xlsx", tmp_path / "x") is None and browser.status.kind == "error"  # type: ignore[arg-type]


async def test_browser_widget_binds_filters_reader_and_export(sample_wb: Workbench) -> None:
    widget = SessionBrowserWidget(sample_wb, max_rows=5)
    widget.apply_button.click()
    await widget.idle()
    assert "u_alice" in widget.user.options and "5 of 360 sessions shown" in widget.table.value
    widget.user.value = "u_huang_min"
    widget.text.value = "数据"
    widget.apply_button.click()
    await widget.idle()
    listed = widget.browser.table
    assert set(listed["user_id"]) == {"u_huang_min"} and len(widget.selection.value) == len(listed)

    widget.picker.value = listed["session_id"][0]
    await widget.idle()
    assert f"<h1>{listed['name'][0]}</h1>" in widget.reader.value

    widget.selection.value = (listed["session_id"][0],)
    widget.fmt.value = "DataFrame"
    widget.export_button.click()
    await widget.idle()
    assert widget.exported is not None and len(widget.exported) == listed["messages"][0]
