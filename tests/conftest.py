"""Fixtures every test folder may use."""

from collections.abc import Iterator

import pytest

from tests.openai_server import FakeOpenAIServer


@pytest.fixture(scope="session")
def _openai_server_process() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def openai_server(_openai_server_process: FakeOpenAIServer) -> FakeOpenAIServer:
    """The fake OpenAI-compatible server on loopback (see tests/openai_server.py), its records cleared."""
    _openai_server_process.reset()
    return _openai_server_process
