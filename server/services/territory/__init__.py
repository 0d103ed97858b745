"""The territory: subdistricts, communities, grids, locate, imports, holidays, admin."""
