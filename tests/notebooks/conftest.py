"""The notebooks run on both profiles: the services run uses the integration tests' servers and conventions."""

import pytest

from tests.integration.conftest import es_url, mysql_url, neo4j_uri, redis_url

__all__ = ["es_url", "mysql_url", "neo4j_uri", "redis_url"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/notebooks/" in str(item.fspath):
            item.add_marker(pytest.mark.notebooks)
