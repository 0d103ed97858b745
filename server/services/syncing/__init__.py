"""The sync adapter: the tables phones sync and how pushed records reach the use cases."""
