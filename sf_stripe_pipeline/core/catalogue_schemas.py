"""pandera schemas derived from the Salesforce catalogue, for the extracted objects that have no hand-written schema
in `core/schemas.py` (contacts, price books, coupons, consumption schedules, ...).

What the catalogue knows, and so what they check: each field's type, each picklist's values, and that `Id` is
present and unique. Nothing is required beyond `Id`: the catalogue does not say which fields Salesforce requires.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pandera.pandas as pa

from sf_stripe_pipeline.salesforce import catalogue

_DTYPES = {
    catalogue.BOOLEAN: pd.BooleanDtype(),
    catalogue.DOUBLE: float,
    catalogue.CURRENCY: float,
    catalogue.PERCENT: float,
    catalogue.INT: float,  # nullable whole numbers arrive as floats
    catalogue.DATE: pa.DateTime,
    catalogue.DATETIME: pd.DatetimeTZDtype(unit="ns", tz="UTC"),
}


def _column(spec: catalogue.FieldSpec) -> pa.Column:
    checks = [pa.Check.isin(list(spec.picklist))] if spec.picklist else []
    if spec.name == "Id":
        return pa.Column(str, nullable=False, unique=True)
    return pa.Column(_DTYPES.get(spec.type, str), checks=checks, nullable=True, required=False)


@cache
def catalogue_schema(sobject: str) -> pa.DataFrameSchema:
    """Types, picklist values and a unique Id for every catalogue field of `sobject`."""
    fields = catalogue.SOBJECTS[sobject].fields
    return pa.DataFrameSchema(
        {name: _column(spec) for name, spec in fields.items()},
        strict=False,  # extraction adds flags such as `_passes_filter`
        coerce=True,  # DuckDB and REST give the same values different dtypes
        name=f"{sobject} (from the catalogue)",
    )
