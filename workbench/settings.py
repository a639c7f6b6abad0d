"""Configuration, read once at the edge: argument, then environment / ``.env``, then default.

Nothing else in the package reads ``os.environ``; adapters and clients take explicit
arguments built from a :class:`Settings`. Secrets are ``SecretStr`` and URLs are shown
with their password masked, so neither reaches a log or a repr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "redact_url"]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def default_data_dir() -> Path:
    """``.workbench/`` in the project that holds the current directory, else in the home."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "workbench").is_dir():
            return folder / ".workbench"
    return Path.home() / ".workbench"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


class Settings(BaseSettings):
    """Every setting of the workbench, with the environment variable that sets it."""

    model_config = SettingsConfigDict(
        env_prefix="WORKBENCH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    profile: Literal["embedded", "services"] = Field(
        "embedded", description="embedded (SQLite, no server) or services (Redis, MySQL, ES, Neo4j)"
    )
    data_dir: Path = Field(default_factory=default_data_dir, description="embedded store folder")
    max_content_bytes: int = Field(1024 * 1024, gt=0, description="largest message, UTF-8 bytes")
    relay: Literal["inline", "external"] = Field(
        "inline",
        description="inline: the outbox relay drains in the background of each process that writes; "
        "external: writes only record outbox rows, a `workbench relay` process drains them",
    )
    relay_interval: float = Field(0.5, gt=0, description="seconds between two polls of `workbench relay`")

    # services profile
    mysql_url: SecretStr = Field(
        SecretStr("mysql://workbench:workbench@127.0.0.1:3306/workbench"),
        validation_alias=_env("MYSQL_URL", "WORKBENCH_MYSQL_URL"),
    )
    mysql_pool_size: int = Field(10, gt=0)
    redis_url: SecretStr = Field(
        SecretStr("redis://127.0.0.1:6379/0"), validation_alias=_env("REDIS_URL", "WORKBENCH_REDIS_URL")
    )
    es_url: str = Field(
        "http://127.0.0.1:9200",
        validation_alias=_env("ES_URL", "WORKBENCH_ES_URL"),
        description="one URL, or several separated by commas",
    )
    es_api_key: SecretStr | None = Field(None, validation_alias=_env("ES_API_KEY", "WORKBENCH_ES_API_KEY"))
    neo4j_uri: str = Field("bolt://127.0.0.1:7687", validation_alias=_env("NEO4J_URI", "WORKBENCH_NEO4J_URI"))
    neo4j_user: str = Field("neo4j", validation_alias=_env("NEO4J_USER", "WORKBENCH_NEO4J_USER"))
    neo4j_password: SecretStr | None = Field(None, validation_alias=_env("NEO4J_PASSWORD", "WORKBENCH_NEO4J_PASSWORD"))
    neo4j_database: str = Field("neo4j", validation_alias=_env("NEO4J_DATABASE", "WORKBENCH_NEO4J_DATABASE"))
    analysis_timeout: float = Field(120.0, gt=0, description="seconds one graph analysis query may run (Neo4j)")

    # the seed's layout; a user's keys share one Redis Cluster slot through the {user_id} hash tag
    redis_sessions_key: str = "user:{{{user_id}}}:sessions"
    redis_messages_key: str = "user:{{{user_id}}}:session:{session_id}:messages"
    cache_ttl_seconds: int = Field(86400, gt=0)
    es_index: str = "conversations"

    # the model endpoint (any OpenAI-compatible server)
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL", "WORKBENCH_OPENAI_BASE_URL"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY", "WORKBENCH_OPENAI_API_KEY"))
    model: str = Field("gpt-4o-mini", description="WORKBENCH_MODEL: the chat model name")
    llm_timeout: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(2, ge=0)
    temperature: float | None = None
    max_tokens: int | None = Field(None, gt=0)
    system_prompt: str | None = None
    context_messages: int = Field(50, gt=0, description="at most this many earlier messages as context")
    context_tokens: int = Field(6000, gt=0, description="approximate token budget of the context")

    @field_validator("redis_sessions_key", "redis_messages_key")
    @classmethod
    def _template_has_user(cls, value: str) -> str:
        if "{user_id}" not in value:
            raise ValueError("a Redis key template must contain {user_id}")
        return value

    def es_hosts(self) -> list[str]:
        return [host.strip() for host in self.es_url.split(",") if host.strip()]

    def describe(self) -> dict[str, str]:
        """What ``doctor`` prints: every setting, secrets masked."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                value = redact_url(secret) if "://" in secret else "***"
            shown[name] = str(value)
        return shown
