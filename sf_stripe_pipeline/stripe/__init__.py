"""The Stripe side of the pipeline: reading the objects a plan is about, and executing a plan."""
