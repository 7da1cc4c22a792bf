"""Data files shipped with the package (compressed), and one way to open them or a user's own."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import TextIO

DATA_DIR = Path(__file__).parent


def resolve(path: str | Path, *, base: Path = DATA_DIR) -> Path:
    """The file itself if it exists, else its .gz twin; relative names are looked up in `base`."""
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = base / p
    if p.exists():
        return p
    gz = p.with_name(p.name + ".gz")
    if gz.exists():
        return gz
    raise FileNotFoundError(f"no such data file: {p} (nor {gz.name})")


def open_text(path: str | Path, *, base: Path = DATA_DIR) -> TextIO:
    """Open a UTF-8 text file, transparently decompressing .gz; a BOM is dropped."""
    p = resolve(path, base=base)
    if p.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8-sig", newline="")
    return open(p, encoding="utf-8-sig", newline="")
