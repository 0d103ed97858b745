"""Pure spatial functions: GeoJSON, coordinate systems, metric measures, grid lookup, demo grids.

Imports only the standard library, Shapely (with numpy), pyproj and prcoords: no Flask, no
database.
"""
