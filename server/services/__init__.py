"""Use cases: one module per family, one transaction per use case."""
