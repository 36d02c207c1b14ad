"""Local data files (JSONL, JSON, CSV, Parquet): read them, and refuse a bad one with the file, the line or
row, the column and what is allowed, before any training starts.

JSON Lines files are checked in one streaming pass before `datasets` sees them: each line is decoded as
UTF-8 and parsed on its own, so a broken line 999,991 of a million is reported by its line number (and a
bad byte by its offset) in about 3 s per million rows, with constant memory. `datasets` alone would either
give a pyarrow message without a line or quietly cast a number to a string. Other formats are loaded by
`datasets` (after a UTF-8 pass for CSV and JSON) and their values are checked row by row with the same rules:
a text column holds non-empty strings or non-empty lists of `{role, content}` messages, one form per column
and per row; a `label` column holds true or false.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from rlft.core.schema import ConfigError
from rlft.core.userpaths import check_file

FILE_FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
ROLES = ("system", "user", "assistant", "tool")
CHUNK = 1 << 20  # bytes read at a time by the UTF-8 pass


def read_file(path: str, key: str, required: tuple[str, ...]):
    """A checked `datasets.Dataset` of a local file that has the `required` columns; ConfigError otherwise."""
    from datasets import load_dataset

    file = Path(path).expanduser()
    suffix = file.suffix.lower()
    if suffix not in FILE_FORMATS:
        raise ConfigError(key, f"'{path}' has an unknown extension; allowed: {', '.join(FILE_FORMATS)}")
    check_file(path, key, "data file", f"give a {', '.join(FILE_FORMATS)} file")
    if file.stat().st_size == 0:
        raise ConfigError(key, f"'{path}' is empty (0 bytes); it needs rows with column(s) {', '.join(required)}")
    scanned = suffix == ".jsonl" or (suffix == ".json" and _first_char(file) == "{")
    if scanned:
        _scan_json_lines(file, path, key, required)
    elif suffix != ".parquet":
        _check_utf8(file, path, key)
    if suffix == ".csv":
        _check_csv_rows(file, path, key, required)
    # CSV cells are text: keep "46" a string rather than the number pandas would make of it
    options = {"converters": {c: str for c in required if c != "label"}} if suffix == ".csv" else {}
    datasets_log = logging.getLogger("datasets")
    level = datasets_log.level
    datasets_log.setLevel(logging.CRITICAL)  # its own report of a bad file would come before ours
    try:
        ds = load_dataset(FILE_FORMATS[suffix], data_files=str(file), split="train", **options)
    except Exception as e:  # datasets raises many types for unreadable files; all mean the same to a user
        cause = e.__cause__ or e.__context__ or e  # DatasetGenerationError hides the parser's own message
        detail = " ".join(str(cause).split())  # one line
        raise ConfigError(key, f"cannot read '{path}' as {suffix[1:]}: {type(cause).__name__}: {detail}") from None
    finally:
        datasets_log.setLevel(level)
    if len(ds) == 0:
        raise ConfigError(key, f"'{path}' has no rows")
    if not scanned:
        missing = [c for c in required if c not in ds.column_names]
        if missing:
            has = ", ".join(ds.column_names)
            raise ConfigError(key, f"'{path}' lacks column(s) {', '.join(missing)}; it has: {has}")
        check_values(ds, f"'{path}'", key, required)
    return ds


def check_values(ds, name: str, key: str, required: tuple[str, ...]) -> None:
    """The values of a loaded dataset's `required` columns, row by row, by the rules of a file's rows (`name`
    says which rows in a message: `'train.csv' row 3: ...`)."""
    forms: dict[str, str] = {}
    start = 0
    for batch in ds.select_columns(list(required)).iter(batch_size=8192):  # decoded values, in batches
        for j in range(len(batch[required[0]])):
            problem = _row_problem({c: batch[c][j] for c in required}, required, forms)
            if problem:
                raise ConfigError(key, f"{name} row {start + j}: {problem}")
        start += len(batch[required[0]])


def _first_char(file: Path) -> str:
    """The first non-blank character of a file: '{' for JSON Lines, '[' for a JSON array."""
    with file.open("rb") as f:
        return f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1].decode("ascii", "replace")


def _check_csv_rows(file: Path, path: str, key: str, required: tuple[str, ...]) -> None:
    """A CSV file needs a header and at least one row under it; `datasets` alone says only "no data!". Reads
    up to the first row."""
    with file.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is not None and next((row for row in reader if any(cell.strip() for cell in row)), None):
            return
    columns = ", ".join(required)
    if header is None:
        raise ConfigError(key, f"'{path}' has only blank lines; it needs a header line ({columns}) and rows")
    raise ConfigError(key, f"'{path}' has a header line ({', '.join(header)}) but no rows under it")


def _utf8_error(path: str, key: str, e: UnicodeDecodeError, offset: int, line: int, column: int) -> ConfigError:
    byte = e.object[e.start : e.start + 1].hex()
    return ConfigError(key, f"'{path}' is not UTF-8 text: byte 0x{byte} at offset {offset} (line {line}, "
                       f"column {column}); save it as UTF-8")  # fmt: skip


def _check_utf8(file: Path, path: str, key: str) -> None:
    """Decode the file as UTF-8 in chunks cut at line ends; a bad byte is reported with its offset and line."""
    offset, line, rest = 0, 1, b""
    with file.open("rb") as f:
        while True:
            chunk = f.read(CHUNK)
            data = rest + chunk
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            part, rest = data[:cut], data[cut:]
            try:
                part.decode("utf-8")
            except UnicodeDecodeError as e:
                start = part.rfind(b"\n", 0, e.start) + 1
                raise _utf8_error(path, key, e, offset + e.start, line + part.count(b"\n", 0, e.start),
                                  e.start - start + 1) from None  # fmt: skip
            offset, line = offset + len(part), line + part.count(b"\n")
            if not chunk:
                return


def _scan_json_lines(file: Path, path: str, key: str, required: tuple[str, ...]) -> None:
    """One pass over a JSON Lines file: UTF-8, one JSON object per line, the required columns, their values.
    The per-line work is kept to decoding, parsing and `_row_problem`; messages are built only on an error."""
    forms: dict[str, str] = {}
    offset, row = 0, 0
    with file.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _utf8_error(path, key, e, offset + e.start, number, e.start + 1) from None
            offset += len(raw)
            if number == 1:
                text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark, as CSV files accept
            if not text.strip():
                continue  # datasets skips blank lines too
            try:
                record = json.loads(text)
            except ValueError as e:
                at = ""
                if isinstance(e, json.JSONDecodeError):
                    at = " at the end of the line" if e.pos >= len(text.rstrip()) else f" at column {e.pos + 1}"
                detail = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
                raise ConfigError(key, f"'{path}' line {number}, row {row}: not valid JSON{at} ({detail}); one "
                                  "JSON object per line") from None  # fmt: skip
            if type(record) is not dict:
                problem = f"expected a JSON object like {{\"prompt\": ...}}, got {_kind(record)}"
            else:
                problem = _row_problem(record, required, forms)
            if problem:
                first = row == 0 and problem.startswith("lacks")  # the file's columns, not one row's
                raise ConfigError(key, f"'{path}'{'' if first else f' line {number}, row {row}:'} {problem}")
            row += 1
    if row == 0:
        raise ConfigError(key, f"'{path}' has no rows (only blank lines)")


def _row_problem(record: dict, required: tuple[str, ...], forms: dict[str, str]) -> str | None:
    """What is wrong with one row's required values, or None; `forms` remembers each column's form (text or
    messages) so far, so that a column keeps one form."""
    row_form = None
    for column in required:
        if column not in record:
            missing = [c for c in required if c not in record]
            return f"lacks column(s) {', '.join(missing)}; it has: {', '.join(record)}"
        value = record[column]
        if column == "label":
            if type(value) is not bool:
                return f"column 'label' is {_kind(value)}; expected true or false"
            continue
        if type(value) is str and value and not value.isspace():  # the common case, kept cheap
            form = "text"
        else:
            form = _text_form(value)
            if form not in _FORMS:
                return f"column '{column}' {form}"
        if forms.setdefault(column, form) != form:
            return (f"column '{column}' is {_FORMS[form]}, but earlier rows hold {_FORMS[forms[column]]}; use one "
                    "form per column")  # fmt: skip
        if row_form is not None and form != row_form[1]:
            return (f"column '{column}' is {_FORMS[form]} but '{row_form[0]}' is {_FORMS[row_form[1]]}; a row's "
                    "columns must all be text or all messages")  # fmt: skip
        row_form = row_form or (column, form)
    return None


_FORMS = {"text": "a string", "messages": "a list of messages"}
_ALLOWED = "a non-empty string or a list of {role, content} messages"


def _text_form(value) -> str:
    """'text' or 'messages' for a valid prompt/completion value, else what is wrong with it ('is empty')."""
    if isinstance(value, str):
        return "text" if value.strip() else f"is empty{' (only whitespace)' if value else ''}"
    if not isinstance(value, list):
        return f"is {'empty (null)' if value is None else _kind(value)}; expected {_ALLOWED}"
    if not value:
        return "is empty (an empty list of messages)"
    for j, message in enumerate(value):
        if not (isinstance(message, dict) and isinstance(message.get("content"), str)
                and message.get("role") in ROLES):  # fmt: skip
            return (f"message {j} is {_kind(message)}; expected {{\"role\": one of {', '.join(ROLES)}, "
                    "\"content\": a string}")  # fmt: skip
    if not any(m["content"].strip() for m in value):
        return "is empty (every message's content is blank)"
    return "messages"


def _kind(value) -> str:
    """A short description of a JSON value for a message: `5 (a number)`, `a list`, ..."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{value[:40]!r} (a string)"
    if value is None:
        return "null"
    text = json.dumps(value, default=str)
    return f"{text[:60]}{'...' if len(text) > 60 else ''} (a {'list' if isinstance(value, list) else 'mapping'})"


def conversational(path: str) -> bool:
    """Whether a checked file's `prompt` column holds message lists (read from its first row only)."""
    file = Path(path).expanduser()
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return False  # CSV cells are text
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.ParquetFile(file).read_row_group(0, columns=["prompt"])
        return isinstance(table.column("prompt")[0].as_py(), list)
    with file.open("rb") as f:
        if _first_char(file) == "[":
            return isinstance(json.load(f)[0].get("prompt"), list)
        for raw in f:
            if raw.strip():
                return isinstance(json.loads(raw.decode("utf-8-sig")).get("prompt"), list)
    return False
