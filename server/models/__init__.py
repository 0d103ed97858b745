"""Database models, one module per family. Importing this registers them all."""

from server.models.base import Base
from server.models.catalog import Category
from server.models.org import Community, Grid, Subdistrict, Unit
from server.models.people import CollectorGrid, Device, User

__all__ = [
    "Base",
    "Category",
    "CollectorGrid",
    "Community",
    "Device",
    "Grid",
    "Subdistrict",
    "Unit",
    "User",
]
