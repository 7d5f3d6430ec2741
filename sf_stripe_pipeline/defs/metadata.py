"""Metadata every table asset reports the same way: Dagster's standard table keys, and tables of records (plans,
rejections, failures) as `MetadataValue.table` with a `TableSchema`, so the UI renders them as tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import duckdb

TABLE_ROWS_SHOWN = 200
"""Records beyond this are counted, not shown: the full rows are in the warehouse."""


def table_metadata(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    """`dagster/table_name`, `dagster/row_count` and `dagster/column_schema` of a warehouse table."""
    columns = conn.execute(f"DESCRIBE {table}").fetchall()
    return {
        "dagster/table_name": table,
        "dagster/row_count": conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0],
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(sql_type)) for name, sql_type, *_ in columns]
        ),
    }


def records_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dg.TableMetadataValue:
    """The first `TABLE_ROWS_SHOWN` rows as a table; values as text (None stays empty)."""
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({name: "" if row.get(name) is None else str(row.get(name)) for name in columns})
            for row in list(rows)[:TABLE_ROWS_SHOWN]
        ],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in columns]),
    )


def table_rows(value: dg.TableMetadataValue) -> list[dict[str, str]]:
    """The records of a table metadata value, as dicts (how the CLI reads a run's tables back)."""
    return [dict(record.data) for record in value.records]
