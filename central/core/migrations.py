"""Schema upkeep run by :func:`central.core.db.init_db`, idempotent and safe to run again.

- :func:`add_missing_columns`: a table created by older code gets the columns this code's
  models added (all nullable or defaulted), so a version-1 database opens in version 2.
- :func:`create_missing_indexes`: likewise for indexes (``create_all`` only makes those of new
  tables).
- :func:`widen_columns`: PostgreSQL enforces VARCHAR lengths; ``app_user.role`` grew from 16 to
  32 characters for the new role names.
- :func:`append_only_audit`: triggers that make the database itself refuse UPDATE and DELETE on
  ``audit_log`` (TRUNCATE, which tests use to reset a scratch database, is not a row change).
- :func:`backfill_rollup`: the hourly and daily roll-ups of readings stored before they
  existed, set-based.
- :func:`seed_classifications`: the built-in classification entries that are missing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, MetaData, inspect, text
from sqlalchemy.engine import Connection

from central.core.classifications import builtin_entries

_WIDEN = {("app_user", "role"): 32}


def add_missing_columns(conn: Connection, metadata: MetaData) -> list[str]:
    """ALTER TABLE ... ADD COLUMN for every model column the database lacks; returns them."""
    insp = inspect(conn)
    existing_tables = set(insp.get_table_names())
    added: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        have = {c["name"] for c in insp.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            conn.execute(text(_add_column_sql(conn, table.name, column)))
            added.append(f"{table.name}.{column.name}")
    return added


def _add_column_sql(conn: Connection, table: str, column: Column[Any]) -> str:
    dialect = conn.dialect
    type_sql = column.type.compile(dialect=dialect)
    quote = dialect.identifier_preparer.quote
    default = ""
    if not column.nullable:
        # Only defaulted NOT NULL columns are ever added (booleans and counters).
        value = column.default.arg if column.default is not None else None  # type: ignore[attr-defined]
        if isinstance(value, bool):
            default = f" NOT NULL DEFAULT {'TRUE' if value else 'FALSE'}"
        elif isinstance(value, int | float):
            default = f" NOT NULL DEFAULT {value}"
    return f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.name)} {type_sql}{default}"


def create_missing_indexes(conn: Connection, metadata: MetaData) -> list[str]:
    """The indexes later code added to tables that exist already (``create_all`` skips them)."""
    insp = inspect(conn)
    existing_tables = set(insp.get_table_names())
    created: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        have = {ix["name"] for ix in insp.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in have:
                index.create(conn)
                created.append(str(index.name))
    return created


def widen_columns(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        return  # SQLite does not enforce VARCHAR lengths
    for (table, column), length in _WIDEN.items():
        current = conn.execute(
            text(
                "SELECT character_maximum_length FROM information_schema.columns "
                "WHERE table_name = :t AND column_name = :c"
            ),
            {"t": table, "c": column},
        ).scalar()
        if current is not None and current < length:
            conn.execute(
                text(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE varchar({length})')
            )


_SQLITE_AUDIT_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_PG_AUDIT_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION hse_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION hse_audit_append_only()",
]


def append_only_audit(conn: Connection) -> None:
    statements = _PG_AUDIT_TRIGGERS if conn.dialect.name == "postgresql" else _SQLITE_AUDIT_TRIGGERS
    for statement in statements:
        conn.execute(text(statement))


BACKFILL_ROLLUP_SQL = """
INSERT INTO reading_hourly (point_id, hour_ts, samples, good, valued, sum_value, min_value,
                            max_value)
SELECT point_id, source_ts - source_ts % 3600000000, COUNT(*),
       SUM(CASE WHEN quality = 0 THEN 1 ELSE 0 END), COUNT(value), COALESCE(SUM(value), 0),
       MIN(value), MAX(value)
FROM reading
GROUP BY point_id, source_ts - source_ts % 3600000000
"""


BACKFILL_DAILY_SQL = """
INSERT INTO reading_daily (point_id, day_ts, samples, good, valued, sum_value, min_value,
                           max_value)
SELECT point_id, hour_ts - hour_ts % 86400000000, SUM(samples), SUM(good), SUM(valued),
       SUM(sum_value), MIN(min_value), MAX(max_value)
FROM reading_hourly
GROUP BY point_id, hour_ts - hour_ts % 86400000000
"""


def backfill_rollup(conn: Connection) -> None:
    """Roll up every stored reading, by hour then by day; only into empty roll-ups (the
    version 1 -> 2 step)."""
    if conn.execute(text("SELECT 1 FROM reading_hourly LIMIT 1")).first() is None:
        conn.execute(text(BACKFILL_ROLLUP_SQL))
    if conn.execute(text("SELECT 1 FROM reading_daily LIMIT 1")).first() is None:
        conn.execute(text(BACKFILL_DAILY_SQL))


FOLD_AGGREGATES_SQL = """
INSERT INTO {table} (point_id, {key}, {columns})
SELECT point_id, from_ts - from_ts % {width}, SUM("count"),
       SUM(CASE WHEN quality = 0 THEN "count" ELSE 0 END),
       SUM(CASE WHEN mean IS NOT NULL THEN "count" ELSE 0 END),
       COALESCE(SUM(mean * "count"), 0), MIN("min"), MAX("max")
FROM reading_aggregate
WHERE true
GROUP BY point_id, from_ts - from_ts % {width}
ON CONFLICT (point_id, {key}) DO UPDATE {action}
"""


def fold_aggregates_into_rollup(conn: Connection) -> None:
    """Add the agents' thinned aggregates to the hourly and daily roll-ups (the version 2 -> 3
    step: from version 3 on, ingest adds them as they arrive)."""
    from central.store.rollup import COLUMNS, add_to

    for table, key, width in (
        ("reading_hourly", "hour_ts", 3_600_000_000),
        ("reading_daily", "day_ts", 86_400_000_000),
    ):
        conn.execute(
            text(
                FOLD_AGGREGATES_SQL.format(
                    table=table, key=key, columns=COLUMNS, width=width, action=add_to(table)
                )
            )
        )


def seed_classifications(conn: Connection) -> None:
    from central.models import Classification

    table = Classification.__table__  # type: ignore[attr-defined]
    have = {(s, k) for s, k in conn.execute(text("SELECT scheme, key FROM classification"))}
    rows = [e for e in builtin_entries() if (e["scheme"], e["key"]) not in have]
    if rows:
        conn.execute(table.insert(), rows)


__all__ = [
    "BACKFILL_DAILY_SQL",
    "BACKFILL_ROLLUP_SQL",
    "FOLD_AGGREGATES_SQL",
    "add_missing_columns",
    "append_only_audit",
    "backfill_rollup",
    "create_missing_indexes",
    "fold_aggregates_into_rollup",
    "seed_classifications",
    "widen_columns",
]
