"""Generate ``workbench/_sync/`` from ``workbench/_async/`` with unasync: the sync code is never edited by hand.

python scripts/generate_sync.py            # rewrite workbench/_sync
python scripts/generate_sync.py --check    # exit 1 if workbench/_sync is out of date
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "workbench" / "_async"
TARGET = ROOT / "workbench" / "_sync"

# beyond unasync's own (async/await, __aenter__, AsyncIterator, ...)
REPLACEMENTS = {
    "AsyncOpenAI": "OpenAI",
    "AsyncLLMClient": "LLMClient",
    "aclose": "close",
    "aclosing": "closing",
}


def header(source: Path) -> str:
    name = source.relative_to(SOURCE).as_posix()
    return f"# Generated from workbench/_async/{name} by scripts/generate_sync.py: do not edit.\n"


def generate(target: Path = TARGET) -> list[Path]:
    """Write the sync twin of every module under ``workbench/_async`` into ``target``; returns the files written."""
    sources = sorted(SOURCE.rglob("*.py"))
    rule = unasync.Rule(fromdir=str(SOURCE), todir=str(target), additional_replacements=REPLACEMENTS)
    unasync.unasync_files([str(p) for p in sources], rules=[rule])
    written = []
    for source in sources:
        out = target / source.relative_to(SOURCE)
        out.write_text(header(source) + out.read_text(encoding="utf-8"), encoding="utf-8")
        written.append(out)
    return written


def stale(target: Path = TARGET) -> list[str]:
    """The files of ``target`` that differ from a fresh generation (or are missing, or extra)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.relative_to(tmp).as_posix() for p in generate(Path(tmp))}
        present = {p.relative_to(target).as_posix() for p in target.rglob("*.py")} if target.is_dir() else set()
        return sorted(
            name
            for name in fresh | present
            if name not in fresh
            or name not in present
            or not filecmp.cmp(Path(tmp) / name, target / name, shallow=False)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files instead of writing them")
    if parser.parse_args().check:
        if differing := stale():
            print("out of date (run python scripts/generate_sync.py):", *differing, sep="\n  ")
            return 1
        return 0
    for path in generate():
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
