"""Data files shipped with the package (compressed), and one way to open them or a user's own."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from jiesu.errors import DataSourceError

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


def read_csv(path: str | Path, *, required: Iterable[str] = (), base: Path = DATA_DIR,
             field: str = "source") -> list[dict[str, str]]:
    """Every row of a UTF-8 CSV (or its .gz) as a dict. A missing file, a missing column or another
    encoding (Excel in China saves GBK) is a DataSourceError that names the file, never a traceback."""
    name = Path(path).name
    try:
        with open_text(path, base=base) as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DataSourceError(f"{name}: missing column(s) {', '.join(missing)}", field=field)
            return list(reader)
    except FileNotFoundError as exc:
        raise DataSourceError(str(exc), field=field) from exc
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"{name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV",
                              field=field) from exc
