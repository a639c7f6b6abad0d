"""The system-of-record schema, versioned; one DDL text serves SQLite and MySQL.

Version 1 is the seed's own ``users`` and ``sessions`` tables, so a database the seed
already wrote upgrades in place. Version 2 adds what keeps messages from being lost:
``sessions.last_seq``, the ``messages`` table and the ``outbox``.
"""

from __future__ import annotations

from workbench.stores.base import Database

__all__ = ["SCHEMA_VERSION", "migrate", "schema_version"]

_TYPES = {
    "sqlite": {
        "DATETIME": "TEXT",
        "AUTO_ID": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "TABLE_OPTIONS": "",
        "ID": "TEXT",
    },
    "mysql": {
        "DATETIME": "DATETIME(6)",
        "AUTO_ID": "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        "TABLE_OPTIONS": " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        "ID": "VARCHAR(128)",
    },
}

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the seed's tables
    (
        """CREATE TABLE IF NOT EXISTS users (
            user_id {ID} NOT NULL PRIMARY KEY,
            username VARCHAR(255) NOT NULL,
            created_at {DATETIME} NOT NULL
        ){TABLE_OPTIONS}""",
        """CREATE TABLE IF NOT EXISTS sessions (
            session_id CHAR(36) NOT NULL PRIMARY KEY,
            user_id {ID} NOT NULL,
            name VARCHAR(255) NOT NULL,
            created_at {DATETIME} NOT NULL,
            updated_at {DATETIME} NOT NULL,
            is_active TINYINT NOT NULL DEFAULT 1
        ){TABLE_OPTIONS}""",
    ),
    # 2: messages as the system of record, the outbox feeding the derived stores
    (
        "ALTER TABLE sessions ADD COLUMN last_seq INT NOT NULL DEFAULT 0",
        "CREATE INDEX idx_sessions_user ON sessions (user_id, is_active, updated_at)",
        """CREATE TABLE messages (
            session_id CHAR(36) NOT NULL,
            seq INT NOT NULL,
            message_id VARCHAR(64) NOT NULL,
            user_id {ID} NOT NULL,
            role VARCHAR(16) NOT NULL,
            content LONGTEXT NOT NULL,
            created_at {DATETIME} NOT NULL,
            metadata LONGTEXT NOT NULL,
            PRIMARY KEY (session_id, seq),
            UNIQUE (message_id)
        ){TABLE_OPTIONS}""",
        "CREATE INDEX idx_messages_user_time ON messages (user_id, created_at)",
        """CREATE TABLE outbox (
            id {AUTO_ID},
            target VARCHAR(16) NOT NULL,
            kind VARCHAR(16) NOT NULL,
            user_id {ID} NOT NULL,
            session_id CHAR(36) NOT NULL,
            message_id VARCHAR(64) NULL,
            created_at {DATETIME} NOT NULL,
            attempts INT NOT NULL DEFAULT 0,
            last_error TEXT NULL
        ){TABLE_OPTIONS}""",
        "CREATE INDEX idx_outbox_target ON outbox (target, id)",
    ),
)

SCHEMA_VERSION = len(_MIGRATIONS)

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INT NOT NULL PRIMARY KEY,
    applied_at {DATETIME} NOT NULL
){TABLE_OPTIONS}"""


def _render(db: Database, ddl: str) -> str:
    return ddl.format(**_TYPES[db.dialect])


async def schema_version(db: Database) -> int:
    """The version applied to ``db`` (0 for an empty database)."""
    await db.execute_update(_render(db, _VERSION_TABLE))
    rows = await db.execute_query("SELECT MAX(version) AS v FROM schema_version")
    return int(rows[0]["v"] or 0)


async def migrate(db: Database) -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION`; safe to call from several processes at once."""
    from workbench.models import utcnow

    await db.execute_update(_render(db, _VERSION_TABLE))
    # DDL commits implicitly in MySQL, so a named lock (released even on failure) serialises migrators
    async with db.advisory_lock("workbench_schema"), db.transaction() as tx:
        rows = await tx.execute_query("SELECT MAX(version) AS v FROM schema_version")
        current = int(rows[0]["v"] or 0)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for ddl in _MIGRATIONS[version - 1]:
                await tx.execute_update(_render(db, ddl))
            await tx.execute_update(
                "INSERT INTO schema_version (version, applied_at) VALUES (:v, :at)",
                {"v": version, "at": utcnow()},
            )
        await tx.commit()
    return SCHEMA_VERSION
