"""Interop: Open311 GeoReport v2, 台账 exports."""
