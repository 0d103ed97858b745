"""The demo sub-district and its history: seeding, not a use case."""
