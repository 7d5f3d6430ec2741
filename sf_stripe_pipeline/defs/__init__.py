"""The Dagster shell: every module here is loaded by `definitions.py`."""

import warnings

import dagster as dg

# A partition range is one run (single-run backfill policy) by design; the parameter is beta in Dagster 1.13.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
