from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from workbench import Workbench


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/" in str(item.fspath):
            item.add_marker(pytest.mark.unit)


@pytest.fixture
async def wb(tmp_path: Path) -> AsyncIterator[Workbench]:
    """A workbench on the embedded profile in a fresh data directory."""
    async with Workbench.open(profile="embedded", data_dir=tmp_path / "store") as workbench:
        yield workbench
