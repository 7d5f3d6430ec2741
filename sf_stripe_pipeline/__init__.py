"""sf_stripe_pipeline: a declarative Dagster pipeline that syncs Salesforce CPQ into Stripe Billing."""
