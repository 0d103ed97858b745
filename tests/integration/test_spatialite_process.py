"""A process that uses SpatiaLite and then pyproj exits cleanly (it once died at exit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server.config import PROJECT_ROOT

SCRIPT = """
from server.app import create_app
from server.extensions import db
from sqlalchemy import text
app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///%(db)s?geoalchemy2_connect_sqlite_init_mode=WGS84"})
with app.app_context():
    print(db.session.execute(text("SELECT spatialite_version()")).scalar())
from geo.measure import distance_m   # pyproj used after mod_spatialite is loaded
print(round(distance_m((119.43, 32.39), (119.44, 32.39))))
"""


def test_spatialite_then_pyproj_exits_cleanly(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MINQING_INSTANCE_PATH": str(tmp_path),
        "SPATIALITE_LIBRARY_PATH": "mod_spatialite",
    }
    env.pop("DATABASE_URL", None)
    from server.config import engine_options  # noqa: F401 - the fix lives there

    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT % {"db": tmp_path / "x.db"}],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.split()
    assert lines[0].startswith("5.")
    assert lines[-1] == "941"
