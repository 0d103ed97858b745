"""Where photos live on disk: content-addressed files under MEDIA_PATH, written atomically.

Layout (`ab/cd` are the first four hex digits of the SHA-256, so no folder grows huge):

    <MEDIA_PATH>/originals/ab/cd/<sha256>          the bytes as uploaded — evidence, private
    <MEDIA_PATH>/public/ab/cd/<sha256>.<ext>       re-encoded copy without EXIF/GPS, served
    <MEDIA_PATH>/thumbs/ab/cd/<sha256>.jpg         thumbnail made from the public copy

A file's name is the hash of the original, so writing the same name twice writes the same
content: a file left behind by a failed transaction is harmless and is reused next time.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from flask import current_app

Variant = Literal["original", "public", "thumb"]

_FOLDERS: dict[str, str] = {"original": "originals", "public": "public", "thumb": "thumbs"}


def media_root() -> Path:
    """The media folder of this app (MINQING_MEDIA_PATH)."""
    return Path(current_app.config["MEDIA_PATH"])


def media_path(sha256: str, variant: Variant, extension: str = "") -> Path:
    """The file of one variant of a photo; `extension` without the dot ('' for originals)."""
    name = f"{sha256}.{extension}" if extension else sha256
    return media_root() / _FOLDERS[variant] / sha256[:2] / sha256[2:4] / name


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either no file or the whole file.

    The bytes go to a temporary file in the same folder, are flushed to disk, then renamed
    over `path` (os.replace is atomic on one file system). A crash leaves at worst a stray
    `.tmp` file, never a truncated photo.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_once(path: Path, data: bytes) -> bool:
    """Write a content-addressed file unless it is already there; True if written."""
    if path.is_file():
        return False
    write_atomic(path, data)
    return True
