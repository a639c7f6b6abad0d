"""workbench/_sync is what scripts/generate_sync.py makes of workbench/_async, byte for byte."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "generate_sync.py"


def test_the_sync_twin_is_generated_from_the_async_source() -> None:
    spec = importlib.util.spec_from_file_location("generate_sync", SCRIPT)
    assert spec is not None and spec.loader is not None
    generate_sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate_sync)
    assert generate_sync.stale() == [], "run: python scripts/generate_sync.py"
