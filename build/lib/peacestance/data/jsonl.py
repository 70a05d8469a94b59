"""One JSON object per line, read the same way everywhere (pages, labels, agreement files)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from peacestance.errors import DataError


def iter_json_objects(text: str, path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; a bad line is a DataError naming it."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=number) from exc
        if not isinstance(record, dict):
            raise DataError("each line must be a JSON object", path=path, line=number)
        yield number, record
