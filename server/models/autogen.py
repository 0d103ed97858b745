"""What Alembic's autogenerate compares: our tables, never the spatial extensions' own."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import alembic_helpers

# SpatiaLite's and PostGIS's internal tables: never ours to create or drop.
SPATIAL_INTERNAL_TABLES = frozenset(
    {
        "spatialindex",
        "knn",
        "knn2",
        "elementarygeometries",
        "data_licenses",
        "sql_statements_log",
        "spatial_ref_sys_aux",
        "spatialite_history",
        "geom_cols_ref_sys",
        "spatial_ref_sys_all",
        "vector_layers",
        "vector_layers_auth",
        "vector_layers_field_infos",
        "vector_layers_statistics",
        "geometry_columns_auth",
        "geometry_columns_field_infos",
        "geometry_columns_statistics",
        "geometry_columns_time",
        "views_geometry_columns_auth",
        "virts_geometry_columns_auth",
        "sqlite_stat1",
        "sqlite_stat4",
    }
)


# The queue's text search (migrations 0013_perfq_case_search, 0015_search_bigrams): SQLite's
# FTS5 tables (cases_search, cases_search_grams) with their shadow tables, PostGIS's trigram
# GIN indexes and its gram index. Written by hand, invisible to the models.
SEARCH_TABLE_PREFIX = "cases_search"
SEARCH_INDEX_SUFFIX = "_trgm"
SEARCH_GRAMS_INDEX = "ix_cases_search_grams"


def include_object(
    obj: Any, name: str | None, obj_type: str, reflected: bool, compare_to: Any
) -> bool:
    if obj_type == "table" and name and name.lower() in SPATIAL_INTERNAL_TABLES:
        return False
    if obj_type == "table" and name and name.lower().startswith(SEARCH_TABLE_PREFIX):
        return False
    if (
        obj_type == "index"
        and name
        and (name.endswith(SEARCH_INDEX_SUFFIX) or name == SEARCH_GRAMS_INDEX)
    ):
        return False
    return bool(alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to))


def render_item(obj_type: str, obj: Any, autogen_context: Any) -> Any:
    """Render UTCDateTime as a plain timezone-aware DateTime: revisions import no app code."""
    if obj_type == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return alembic_helpers.render_item(obj_type, obj, autogen_context)
