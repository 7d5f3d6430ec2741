"""The Salesforce side of the pipeline: the object catalogue, incremental extraction and the write-backs."""
