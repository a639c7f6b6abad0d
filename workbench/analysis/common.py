"""What every analysis backend shares: validated filters and the one place rows become DataFrames.

Backends (SQLite, Elasticsearch, Neo4j) return plain rows; :func:`frame` gives them their
columns, types and a stable order, so both profiles answer with identical DataFrames.
Times are UTC with millisecond precision, the precision Elasticsearch stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import pandas as pd

from workbench.errors import ValidationError
from workbench.models import as_utc, check_role, check_session_id, check_user_id

__all__ = ["Filters", "Kind", "check_count", "check_time", "frame", "to_datetime"]

Kind = Literal["str", "int", "float", "datetime"]
TimeLike = datetime | date | str


def check_count(value: object, what: str, *, maximum: int = 10_000) -> int:
    """A positive int no larger than ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationError(f"{what} must be an integer from 1 to {maximum}, not {value!r}")
    return value


def check_time(value: TimeLike | None, what: str) -> datetime | None:
    """``value`` as an aware UTC datetime; a date means its midnight, naive means UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{what} is not an ISO 8601 date or time: {value[:40]!r}") from None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValidationError(f"{what} must be a datetime, a date or an ISO 8601 string, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Filters:
    """Which messages an analysis looks at; ``since`` is inclusive, ``until`` exclusive."""

    user_id: str | None = None
    role: str | None = None
    session_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(
        cls,
        *,
        user_id: str | None = None,
        role: str | None = None,
        session_id: str | None = None,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
    ) -> Filters:
        """Validated filters (the same errors as the repositories raise)."""
        return cls(
            user_id=None if user_id is None else check_user_id(user_id),
            role=None if role is None else str(check_role(role)),
            session_id=None if session_id is None else check_session_id(session_id),
            since=check_time(since, "since"),
            until=check_time(until, "until"),
        )


def to_datetime(values: pd.Series) -> pd.Series:
    """Datetimes, ISO strings or None as ``datetime64[ms, UTC]``, truncated to the millisecond."""
    parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    return parsed.dt.floor("ms").astype("datetime64[ms, UTC]")


_CAST = {
    "str": lambda s: s.astype("str"),
    "int": lambda s: pd.to_numeric(s).fillna(0).astype("int64"),
    "float": lambda s: pd.to_numeric(s).astype("float64"),
    "datetime": to_datetime,
}


def frame(
    rows: Iterable[Mapping[str, Any]],
    columns: Mapping[str, Kind],
    *,
    sort: Sequence[str] = (),
    descending: Sequence[str] = (),
) -> pd.DataFrame:
    """A DataFrame of ``rows`` with exactly ``columns`` (typed), stably sorted by ``sort``."""
    df = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for name, kind in columns.items():
        df[name] = _CAST[kind](df[name])
    if sort:
        df = df.sort_values(
            list(sort), ascending=[c not in descending for c in sort], kind="stable", na_position="last"
        )
    return df.reset_index(drop=True)
