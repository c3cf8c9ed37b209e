"""Running experiments: in one process on the embedded chain, or as one process per group."""
