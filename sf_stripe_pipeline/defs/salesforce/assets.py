"""Extract: one asset per Salesforce object, landing in DuckDB as `salesforce."<Object>"`.

All of them live in one subsettable multi-asset, so a run extracts them in one step, over one Salesforce client
and one DuckDB connection (DuckDB takes one writer at a time), while the lineage graph still shows each object as
its own asset. Extraction is incremental on `SystemModstamp` through `queryAll` (see `salesforce/extract.py`). Each
object's `schema` check is a separate, executable check (`defs/salesforce/checks.py`).
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at load time.
import json
from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field
from simple_salesforce.exceptions import SalesforceError

from sf_stripe_pipeline import warehouse
from sf_stripe_pipeline.salesforce import extract
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource
from sf_stripe_pipeline.defs.metadata import table_metadata
from sf_stripe_pipeline.core.paths import snake_case
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS

GROUP = "salesforce"


def asset_name(sobject: str) -> str:
    """`SBQQ__QuoteLine__c` -> `sbqq_quote_line`, `PricebookEntry` -> `pricebook_entry`."""
    return snake_case(sobject.removesuffix("__c").replace("__", "_"))


def asset_key(sobject: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, asset_name(sobject)])


EXTRACT_KEYS = {sobject: asset_key(sobject) for sobject in SOBJECTS}
SOBJECT_BY_KEY = {key: sobject for sobject, key in EXTRACT_KEYS.items()}


def salesforce_refusal(sobject: str, refused: SalesforceError) -> str:
    """One line: which read Salesforce refused, its HTTP status and its first error (code and message)."""
    try:  # simple-salesforce hands over the parsed body or the raw bytes
        body = refused.content if isinstance(refused.content, list) else json.loads(refused.content)
        first = body[0]
        reason = f"{first['errorCode']}: {first['message']}"
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        reason = str(refused.content)[:200]
    return f"Salesforce refused reading {sobject} (HTTP {refused.status} {reason}); the run stopped before any Stripe or Salesforce write"


class ExtractConfig(dg.Config):
    full_refresh: bool = Field(
        default=False, description="Ignore the SystemModstamp watermarks and re-extract every record."
    )


@dg.multi_asset(
    name="extract_salesforce",
    specs=[
        dg.AssetSpec(
            key,
            group_name=GROUP,
            kinds={"salesforce", "duckdb"},
            description=f"Salesforce `{sobject}` records (latest version of each, deletions included), "
            f"extracted incrementally into DuckDB table `{warehouse.table_name(sobject)}`.",
            skippable=True,
        )
        for sobject, key in EXTRACT_KEYS.items()
    ],
    can_subset=True,
    # Unpartitioned, yet part of partition-range runs: `dg launch --partition-range` requires a single-run policy on
    # every asset of the job.
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="salesforce_api",
    retry_policy=dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
)
def extract_salesforce(
    context: dg.AssetExecutionContext,
    config: ExtractConfig,
    salesforce: SalesforceResource,
    duckdb: DuckDBResource,
) -> Iterator[dg.MaterializeResult]:
    client = salesforce.get_client()
    filters = sync_config().filters
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        for key in sorted(context.selected_asset_keys, key=lambda k: list(SOBJECTS).index(SOBJECT_BY_KEY[k])):
            sobject = SOBJECT_BY_KEY[key]
            salesforce.check_api_budget(client)
            try:
                result = extract.extract_object(
                    client,
                    conn,
                    sobject,
                    where=filters.get(sobject),
                    full_refresh=config.full_refresh,
                    run_id=context.run.run_id,
                )
            except SalesforceError as refused:  # an answer, not a network fault: retrying the step would not help
                raise dg.Failure(description=salesforce_refusal(sobject, refused), allow_retries=False) from None
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "records_extracted": result.records,
                    "records_validated": result.validated,
                    "deleted_records": result.deleted,
                    "filtered_out": result.filtered_out,
                    "watermark": str(result.watermark_after) if result.watermark_after else "none",
                    "soql": dg.MetadataValue.md(f"```sql\n{result.soql}\n```"),
                    **table_metadata(conn, warehouse.table_name(sobject)),
                    **salesforce.api_usage(client),
                },
            )

