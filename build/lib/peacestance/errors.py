"""Errors that tell the user where the problem is and what to do next."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data, located by file, line and field so it can be fixed by hand."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None, field: str | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        where = ""
        if self.path:
            where = self.path
            if line is not None:
                where += f":{line}"
            if field:
                where += f" (field {field!r})"
            where += ": "
        elif field:
            where = f"field {field!r}: "
        super().__init__(where + message)
