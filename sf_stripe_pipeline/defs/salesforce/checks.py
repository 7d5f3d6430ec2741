"""Schema checks on the extracted Salesforce tables: one `schema` check per object, each executable on its own (the
UI's "Execute" on a check validates the table as it is; it extracts nothing). Extraction validates the records it
upserts once and stores their failing values (`warehouse/org.py`, `validate_extracted`): in a run that extracted
them, the checks report those.

Hand-written pandera schemas (`core/schemas.py`) cover the objects the sync maps; the others are checked against
the schema derived from the catalogue (`core/catalogue_schemas.py`). The checks are non-blocking warnings: a
failing record already quarantines its own contract in `sync/validated_contracts`, and the others still sync.
"""

# No `from __future__ import annotations` here: Dagster reads the resource annotations at load time.
from collections.abc import Iterator

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from sf_stripe_pipeline import warehouse
from sf_stripe_pipeline.core import schemas
from sf_stripe_pipeline.defs.metadata import records_table
from sf_stripe_pipeline.defs.salesforce.assets import EXTRACT_KEYS, SOBJECT_BY_KEY

SCHEMA_CHECK = "schema"


def _description(sobject: str) -> str:
    source = "its pandera schema" if sobject in schemas.SCHEMAS else "the catalogue (types, picklists, unique Id)"
    return (
        f"`{sobject}` records match {source}. Failing records quarantine their contracts; the others sync."
    )


@dg.multi_asset_check(
    name="salesforce_schema_checks",
    specs=[
        dg.AssetCheckSpec(SCHEMA_CHECK, asset=key, description=_description(sobject))
        for sobject, key in EXTRACT_KEYS.items()
    ],
    can_subset=True,
)
def salesforce_schema_checks(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource
) -> Iterator[dg.AssetCheckResult]:
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        keys = sorted(context.selected_asset_check_keys, key=lambda key: key.asset_key.to_string())
        sobjects = [SOBJECT_BY_KEY[check_key.asset_key] for check_key in keys]
        for sobject in sobjects:
            if not _extracted_in_this_run(context, sobject):  # executed on its own: evaluate the table as it is
                warehouse.org.validate_extracted(conn, sobject, everything=True)
        failures = warehouse.org.stored_schema_failures(conn, sobjects)
        none_failing = pd.DataFrame(columns=schemas.FAILURE_COLUMNS)
        for sobject in sobjects:
            (records,) = conn.execute(f"SELECT count(*) FROM {warehouse.table_name(sobject)}").fetchone()
            yield schema_check_result(sobject, records, failures.get(sobject, none_failing))


def _extracted_in_this_run(context: dg.AssetCheckExecutionContext, sobject: str) -> bool:
    latest = context.instance.get_latest_materialization_event(EXTRACT_KEYS[sobject])
    return latest is not None and latest.run_id == context.run.run_id


def schema_check_result(sobject: str, records: int, failures: pd.DataFrame) -> dg.AssetCheckResult:
    """The check's verdict on `records` extracted records and their failing values (found at extraction)."""
    return dg.AssetCheckResult(
        check_name=SCHEMA_CHECK,
        asset_key=EXTRACT_KEYS[sobject],
        passed=failures.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "records_checked": records,
            "failing_records": int(failures["Id"].nunique()) if not failures.empty else 0,
            "failures": len(failures),
            "failure_cases": records_table(failures.to_dict("records"), schemas.FAILURE_COLUMNS),
        },
    )
