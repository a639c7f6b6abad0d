"""The workbench command on the embedded profile: import, export, seed, doctor, sync."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import _overrides, app

SHAREGPT = [
    {
        "id": "conv-1",
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "什么是数据分析？"},
            {"from": "gpt", "value": "数据分析是从数据中提取信息的过程。"},
        ],
    },
    {"id": "conv-2", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
]
OPENAI = [
    {"messages": [{"role": "user", "content": "pivot a DataFrame?"}, {"role": "assistant", "content": "df.pivot"}]},
    {"id": "x-2", "messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]},
]


@pytest.fixture
def cli(tmp_path: Path):
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        _overrides.clear()
        result = runner.invoke(app, ["--data-dir", str(tmp_path / "store"), *args])
        return result.exit_code, result.output

    yield invoke
    _overrides.clear()


def _json_tail(output: str) -> dict:
    return json.loads(output[output.index("{") :])


def test_import_sharegpt_twice_adds_nothing(cli, tmp_path: Path) -> None:
    source = tmp_path / "chats.json"
    source.write_text(json.dumps(SHAREGPT, ensure_ascii=False), encoding="utf-8")
    code, output = cli("import", str(source), "--user", "bob")
    assert code == 0, output
    first = _json_tail(output)
    assert (first["imported"], first["skipped"], first["messages"]) == (2, 0, 5)
    code, output = cli("import", str(source), "--user", "bob")
    again = _json_tail(output)
    assert (again["imported"], again["skipped"], again["messages"]) == (0, 2, 0)


def test_import_openai_jsonl_and_export_round_trip(cli, tmp_path: Path) -> None:
    source = tmp_path / "chats.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in OPENAI) + "\n", encoding="utf-8")
    assert cli("import", str(source), "--user", "carol")[0] == 0
    out = tmp_path / "carol.jsonl"
    code, output = cli("export", "--user", "carol", "--out", str(out))
    assert code == 0, output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(len(r["messages"]) for r in records) == [1, 2]
    contents = sorted(m["content"] for r in records for m in r["messages"])
    assert contents == ["df.pivot", "parts", "pivot a DataFrame?"]
    # an export imports back into another user's store, and only once
    assert _json_tail(cli("import", str(out), "--user", "dave")[1])["imported"] == 2
    assert _json_tail(cli("import", str(out), "--user", "dave")[1])["imported"] == 0


def test_export_markdown(cli, tmp_path: Path) -> None:
    source = tmp_path / "chats.json"
    source.write_text(json.dumps(SHAREGPT[:1], ensure_ascii=False), encoding="utf-8")
    cli("import", str(source), "--user", "bob")
    code, output = cli("export", "--user", "bob", "--format", "markdown")
    assert code == 0
    assert "### user" in output and "什么是数据分析？" in output and "### assistant" in output


def test_bad_files_say_where(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "ok"}]}\n{not json\n', encoding="utf-8")
    code, output = cli("import", str(bad), "--user", "bob")
    assert code == 1 and "bad.jsonl:2" in output
    wrong_role = tmp_path / "role.jsonl"
    wrong_role.write_text('{"messages": [{"role": "wizard", "content": "x"}]}\n', encoding="utf-8")
    code, output = cli("import", str(wrong_role), "--user", "bob")
    assert code == 1 and "unknown role" in output


def test_empty_turn_is_reported_not_half_written(cli, tmp_path: Path) -> None:
    source = tmp_path / "chats.json"
    source.write_text(json.dumps([{"id": "e", "conversations": [{"from": "human", "value": "  "}]}]))
    summary = _json_tail(cli("import", str(source), "--user", "bob")[1])
    assert summary["imported"] == 0 and summary["rejected"][0]["conversation"] == "sharegpt:e"
    assert cli("export", "--user", "bob")[1].strip() == ""


def test_seed_doctor_sync(cli, tmp_path: Path) -> None:
    sample = tmp_path / "sample.jsonl"
    lines = Path("data/sample_conversations.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = cli("seed", "--file", str(sample))
    assert code == 0, output
    assert _json_tail(output)["imported"] == 5
    code, output = cli("seed", "--file", str(sample), "--if-empty")
    assert "already holds sessions" in output
    code, output = cli("doctor")
    assert code == 0, output
    assert "profile: embedded" in output and "schema_version: 2" in output
    code, output = cli("sync")
    assert code == 0 and _json_tail(output)["failed"] == {}
