"""The ``workbench`` command: load, move and check conversations from a shell.

Every command drives the async API through one ``asyncio.run`` here, at the edge.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from workbench.app import Workbench
from workbench.errors import WorkbenchError
from workbench.settings import Settings

__all__ = ["app", "main"]

T = TypeVar("T")
PROJECT_ROOT = Path(__file__).resolve().parent.parent

app = typer.Typer(
    help="Conversation Workbench: chat with, inspect and analyse stored LLM conversations.\n\n"
    "Settings come from the environment and .env (see `workbench doctor`); the embedded "
    "profile (the default) needs no server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_overrides: dict[str, Any] = {}


@app.callback()
def _options(
    profile: Annotated[str | None, typer.Option(help="embedded (default) or services; else WORKBENCH_PROFILE")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="embedded store folder; else WORKBENCH_DATA_DIR")] = None,
) -> None:
    if profile:
        _overrides["profile"] = profile
    if data_dir:
        _overrides["data_dir"] = data_dir


def _run(work: Callable[[Workbench], Awaitable[T]]) -> T:
    """Open a workbench, run ``work`` on it, close it; errors become a one-line message."""

    async def main() -> T:
        async with Workbench.open(**_overrides) as wb:
            return await work(wb)

    try:
        return asyncio.run(main())
    except WorkbenchError as exc:
        _fail(exc)


def _fail(exc: WorkbenchError) -> NoReturn:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1) from None


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@app.command()
def seed(
    file: Annotated[
        Path | None, typer.Option(help="a sample JSONL file; default data/sample_conversations.jsonl")
    ] = None,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="only when the store has no session yet")] = False,
) -> None:
    """Load the sample conversations (idempotent: sessions already there are skipped)."""
    from workbench.sample import load_sample

    async def work(wb: Workbench) -> Any:
        if if_empty:
            stores = await wb.stores()
            rows = await stores.db.execute_query("SELECT COUNT(*) AS n FROM sessions")
            if rows[0]["n"]:
                return {"skipped": "the store already holds sessions", "sessions": rows[0]["n"]}
        return await load_sample(wb, file, progress=True)

    _echo_json(_run(work))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="ShareGPT .json or OpenAI-style .jsonl")],
    user: Annotated[str | None, typer.Option(help="owner of the imported sessions (else the file's user_id)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, sharegpt or openai")] = "auto",
) -> None:
    """Import conversations; re-importing the same file adds nothing."""
    from tqdm import tqdm

    from workbench.formats import read_conversations
    from workbench.ingest import import_session
    from workbench.models import utcnow

    if fmt not in ("auto", "sharegpt", "openai"):
        raise typer.BadParameter("--format is auto, sharegpt or openai")
    try:
        conversations = read_conversations(file, fmt)  # type: ignore[arg-type]
    except WorkbenchError as exc:
        _fail(exc)

    async def work(wb: Workbench) -> dict[str, Any]:
        stores = await wb.stores()
        summary: dict[str, Any] = {
            "conversations": len(conversations),
            "imported": 0,
            "skipped": 0,
            "messages": 0,
            "rejected": [],
        }
        now = utcnow()
        for conversation in tqdm(conversations, desc=f"importing {file.name}", unit="conversation"):
            owner = user or conversation.user_id
            if not owner:
                raise typer.BadParameter("the file names no user_id: pass --user")
            start = conversation.created_at or now
            turns = [
                (t.role, t.content, t.timestamp or start + timedelta(milliseconds=i), t.metadata)
                for i, t in enumerate(conversation.messages)
            ]
            try:
                new = await import_session(
                    stores.db,
                    stores.relay,
                    user_id=owner,
                    external_id=conversation.external_id,
                    name=conversation.name,
                    created_at=start,
                    messages=turns,
                    max_content_bytes=wb.settings.max_content_bytes,
                    notify=False,
                )
            except WorkbenchError as exc:
                summary["rejected"].append({"conversation": conversation.external_id, "error": str(exc)})
                continue
            summary["imported" if new else "skipped"] += 1
            summary["messages"] += len(turns) if new else 0
        report = await wb.sync()
        summary["synced"] = report.applied
        return summary

    _echo_json(_run(work))


@app.command()
def export(
    user: Annotated[str, typer.Option(help="whose sessions")],
    session: Annotated[str | None, typer.Option(help="one session id; default all of the user's")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or markdown")] = "jsonl",
    out: Annotated[Path | None, typer.Option(help="file to write; default standard output")] = None,
) -> None:
    """Export a session, or all of a user's sessions, as JSONL (re-importable) or Markdown."""
    from workbench.formats import session_to_markdown, session_to_record

    if fmt not in ("jsonl", "markdown"):
        raise typer.BadParameter("--format is jsonl or markdown")

    async def work(wb: Workbench) -> list[str]:
        sessions = [await wb.sessions.get_session(user, session)] if session else await wb.sessions.list_sessions(user)
        parts = []
        for s in sessions:
            messages = await wb.messages.get_messages(user, s.session_id)
            if fmt == "jsonl":
                parts.append(json.dumps(session_to_record(s, messages), ensure_ascii=False))
            else:
                parts.append(session_to_markdown(s, messages))
        return parts

    parts = _run(work)
    text = ("\n" if fmt == "jsonl" else "\n\n---\n\n").join(parts) + ("\n" if parts else "")
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(parts)} session(s) to {out}", err=True)


@app.command()
def doctor() -> None:
    """Print the profile, where data lives, and which stores answer (with versions and latency)."""
    from workbench.doctor import diagnose

    settings = Settings(**_overrides)
    typer.secho(f"profile: {settings.profile}", bold=True)
    if settings.profile == "embedded":
        typer.echo(f"data dir: {settings.data_dir}")
    checks = _run(diagnose)
    for check in checks:
        mark = typer.style("ok  ", fg=typer.colors.GREEN) if check.ok else typer.style("DOWN", fg=typer.colors.RED)
        typer.echo(f"{mark} {check.store:<22} {check.role}")
        for key, value in check.details.items():
            shown = f"{value:.1f}" if isinstance(value, float) else value
            typer.echo(f"       {key}: {shown}")
    typer.echo("settings:")
    for key, value in settings.describe().items():
        typer.echo(f"       {key} = {value}")
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@app.command()
def sync() -> None:
    """Bring search, graph and cache up to date with the system of record now."""
    report = _run(lambda wb: wb.sync())
    _echo_json({"applied": report.applied, "failed": report.failed})
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def relay(
    interval: Annotated[
        float | None, typer.Option(help="seconds between two polls; else WORKBENCH_RELAY_INTERVAL (0.5)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log idle rounds too (DEBUG)")] = False,
) -> None:
    """Drain the outbox into search, graph and cache continuously, until Ctrl-C (or SIGTERM).

    The deployment mode for WORKBENCH_RELAY=external: the processes that write only record
    outbox rows, and this one process (or several: they take turns per target) applies them.
    """
    import logging
    import signal

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("elasticsearch", "elastic_transport", "neo4j", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log = logging.getLogger("workbench.relay")

    async def main() -> dict[str, int]:
        async with Workbench.open(**_overrides) as wb:
            relay_ = (await wb.stores()).relay
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            every = interval if interval is not None else wb.settings.relay_interval
            log.info("following the outbox (%s profile) every %.2f s; Ctrl-C stops", wb.settings.profile, every)
            try:
                report = await relay_.follow(interval=every, stop=stop)
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            return report.applied

    try:
        applied = asyncio.run(main())
    except WorkbenchError as exc:
        _fail(exc)
    except KeyboardInterrupt:  # before the handlers were installed: nothing was running yet
        applied = {}
    log.info("stopped; applied %s", applied)


@app.command()
def reindex(user: Annotated[str | None, typer.Option(help="only this user's sessions")] = None) -> None:
    """Rebuild the derived stores (search, graph) from the system of record."""
    _echo_json(_run(lambda wb: wb.reindex(user_id=user)))


@app.command("import-legacy")
def import_legacy(user: Annotated[str | None, typer.Option(help="only this user's sessions")] = None) -> None:
    """Copy history the seed kept only in Elasticsearch into the system of record (idempotent)."""
    _echo_json(_run(lambda wb: wb.import_legacy(user_id=user)))


@app.command()
def chat(
    user: Annotated[str, typer.Option(help="who is chatting")] = os.environ.get("USER", "me"),
    session: Annotated[str | None, typer.Option(help="continue this session; default a new one")] = None,
) -> None:
    """Chat with the configured model in the terminal (/new, /sessions, /switch, /exit)."""
    from workbench.terminal_chat import run_terminal_chat

    try:
        run_terminal_chat(Workbench.open(**_overrides), user, session)
    except WorkbenchError as exc:
        _fail(exc)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def services(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="up, down, status, logs or env")],
) -> None:
    """Install and start (or stop) local MariaDB, Redis, Elasticsearch and Neo4j: scripts/services."""
    script = PROJECT_ROOT / "scripts" / "services"
    if not script.is_file():
        raise typer.BadParameter(f"{script} is missing: this command runs from a source checkout")
    raise typer.Exit(subprocess.call(["bash", str(script), action, *ctx.args]))


@app.command()
def lab(
    port: Annotated[int, typer.Option(help="JupyterLab port")] = 8888,
    seed_if_empty: Annotated[bool, typer.Option(help="load the sample data into an empty store first")] = True,
) -> None:
    """Open JupyterLab on the notebooks (loading the sample data into an empty store first)."""
    if seed_if_empty:
        seed(file=None, if_empty=True)
    env = {**os.environ, **{f"WORKBENCH_{k.upper()}": str(v) for k, v in _overrides.items()}}
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--port={port}",
        "--notebook-dir",
        str(PROJECT_ROOT / "notebooks"),
    ]
    if os.geteuid() == 0:  # containers and CI machines run as root; JupyterLab refuses it otherwise
        command.append("--allow-root")
    raise typer.Exit(subprocess.call(command, env=env))


def main() -> None:
    app()
