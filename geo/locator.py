"""Point → grid: which grid a case or a patrol log falls in.

Border rule: a point inside exactly one grid belongs to it; a point on a border shared by
several grids (an edge or a corner, where it intersects all of them) belongs to the grid with
the lowest key — "lowest grid code wins". :meth:`GridLocator.locate` and
:meth:`GridLocator.locate_many` apply the same predicate and rule, so they always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geo.errors import GeoError

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

    K = TypeVar("K", bound=SupportsRichComparison)
else:
    K = TypeVar("K")


class GridLocator(Generic[K]):
    """An STRtree over grid polygons keyed by grid code (or id); keys must be sortable."""

    def __init__(self, items: Iterable[tuple[K, BaseGeometry]]) -> None:
        pairs = sorted(items, key=lambda item: item[0])
        keys = [key for key, _ in pairs]
        for previous, current in pairwise(keys):
            if previous == current:
                raise GeoError(
                    "duplicate_key",
                    f"Grid key {current!r} appears more than once.",
                    f"网格编号 {current!r} 重复出现。",
                )
        self._keys: tuple[K, ...] = tuple(keys)
        self._geoms: tuple[BaseGeometry, ...] = tuple(geom for _, geom in pairs)
        # Geometries sit in the tree in key order, so the lowest tree index is the lowest key.
        self._tree = shapely.STRtree(list(self._geoms))
        self._key_array: npt.NDArray[Any] = np.empty(len(keys) + 1, dtype=object)
        self._key_array[: len(keys)] = keys
        self._key_array[len(keys)] = None  # what a point in no grid maps to

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __repr__(self) -> str:
        return f"GridLocator({len(self)} grids)"

    def keys(self) -> tuple[K, ...]:
        """All grid keys, lowest first."""
        return self._keys

    def geometry(self, key: K) -> BaseGeometry:
        """The polygon of one grid."""
        try:
            return self._geoms[self._keys.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def locate(self, lon: float, lat: float) -> K | None:
        """The grid containing (lon, lat), the lowest key on a shared border, or None."""
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        return self._keys[int(hits.min())]

    def locate_many(
        self,
        lons: Sequence[float] | npt.NDArray[np.floating[Any]],
        lats: Sequence[float] | npt.NDArray[np.floating[Any]],
    ) -> list[K | None]:
        """:meth:`locate` for many points at once, in one tree query."""
        located: list[K | None] = self._key_array[self.locate_many_positions(lons, lats)].tolist()
        return located

    def locate_many_positions(
        self,
        lons: Sequence[float] | npt.NDArray[np.floating[Any]],
        lats: Sequence[float] | npt.NDArray[np.floating[Any]],
    ) -> npt.NDArray[np.intp]:
        """Per point, the position in :meth:`keys` of its grid (``len(self)`` where none): for
        callers that keep their own arrays per grid, aligned with :meth:`keys`."""
        lon_arr = np.asarray(lons, dtype=np.float64)
        lat_arr = np.asarray(lats, dtype=np.float64)
        if lon_arr.shape != lat_arr.shape or lon_arr.ndim != 1:
            raise GeoError(
                "shape_mismatch",
                f"Longitudes and latitudes must be two flat arrays of one length, got shapes "
                f"{lon_arr.shape} and {lat_arr.shape}.",
                f"经度和纬度必须是等长的一维数组，实际形状为 {lon_arr.shape} 和 {lat_arr.shape}。",
            )
        n = lon_arr.shape[0]
        best = np.full(n, len(self._keys), dtype=np.intp)
        if n == 0 or not self._keys:
            return best
        points = shapely.points(lon_arr, lat_arr)
        point_idx, grid_idx = self._tree.query(points, predicate="intersects")
        # Lowest grid index per point; the sentinel len(keys) is left where nothing was hit.
        np.minimum.at(best, point_idx, grid_idx)
        return best
