"""Reading a user's UTF-8 text file with one clear error for bytes that are not UTF-8."""

from __future__ import annotations

import codecs
from pathlib import Path

from research.errors import UserError


def read_utf8(path: str | Path, hint: str = "") -> str:
    """The text of a UTF-8 file, a leading byte-order mark dropped (as editors on Windows and
    spreadsheet exports write one); a UserError names the first line that is not UTF-8.

    `hint` is appended to the error (e.g. "; expected the ... format").
    """
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_no = data[: err.start].count(b"\n") + 1
        raise UserError(f"{path}:{line_no}: not UTF-8 text{hint}") from None
