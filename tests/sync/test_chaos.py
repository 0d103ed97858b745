"""The chaos run, bounded: 8 phones × 25 offline records (patrol logs, some case reports,
photos, edits) through a lossy proxy (dropped responses, duplicate requests) with a hard
server restart halfway; then nothing is lost or duplicated on the server and every phone
converges to it (`scripts/sync_chaos.py`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from sync_chaos import crash_and_restart, make_devices, read_server_rows, run_chaos


@pytest.mark.slow
def test_chaos_loses_nothing_duplicates_nothing_and_converges(
    app: Flask, world: World, live_server: Any
) -> None:
    from factories import build_world_geojson

    _fc, codes = build_world_geojson()
    devices = make_devices(app, 8, [codes["A1"], codes["A2"], codes["B1"]], codes["SD"])
    result = run_chaos(
        live_server.url,
        devices,
        records=25,
        drop=0.15,
        dup=0.1,
        seed=7,
        restart=lambda: crash_and_restart(live_server),
        server_rows=read_server_rows(app),
    )
    print(result.summary())
    assert result.errors == []
    assert result.records_written == 8 * 25
    assert result.restarts == 1
    assert result.proxy["dropped"] > 0 and result.proxy["duplicated"] > 0
    assert result.retries > 0
    assert result.by_table["cases"] > 0 and result.by_table["patrol_logs"] > 0
    assert result.on_server == result.expected
    assert result.lost == [] and result.duplicated == [] and result.different == []
    assert result.diverged == []
