"""Pure domain rules: no Flask, no SQLAlchemy, no I/O."""
