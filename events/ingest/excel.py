"""Excel workbooks (.xlsx): one sheet as a Parquet file of text columns, then read like Parquet.

The sheet's first row (after `skip_lines` rows) is the header; every later row that holds a
value is a row (an empty
row, like a blank CSV line, is not), numbered in order. Cells become the text the ingest parses
everywhere else, so the same rules apply: numbers as Excel shows them in full (17, 4.5, with
the source's decimal separator), dates as ISO text (a date-only cell, one at midnight whose
number format shows no time of day, as the date alone; else the date and time, naive, in the
source's zone), booleans TRUE / FALSE, text as it is. Formulas read as the value Excel last
saved.
"""

from __future__ import annotations

import itertools
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from contracts.errors import UsagecastError

# The first bytes of an Excel 97-2003 (.xls) workbook, an OLE2 compound file.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Whole numbers below this are written without a fraction or exponent, as Excel shows them.
WHOLE_NUMBER_LIMIT = 1e15
# Quoted literals and [bracketed] colours or locales of a number format, not its codes.
FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


class WorkbookError(UsagecastError):
    """An Excel file that cannot be read as the config asks (raised as a SourceFileError)."""


def shows_time_of_day(number_format: str | None) -> bool:
    """Whether a cell's number format displays hours or seconds (`yyyy-mm-dd hh:mm`)."""
    codes = FORMAT_LITERALS.sub("", (number_format or "").lower())
    return "h" in codes or "s" in codes or "am/pm" in codes


def cell_text(value: object, number_format: str | None, decimal: str = ".") -> str | None:
    """A cell's value as the text the ingest parses (None: an empty cell)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # Excel has one number type: 1E9 is shown as 1000000000
        whole = value.is_integer() and abs(value) < WHOLE_NUMBER_LIMIT
        return str(int(value)) if whole else repr(value).replace(".", decimal)
    if isinstance(value, datetime):
        if value.time() == time() and not shows_time_of_day(number_format):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def title_rows(rows: Sequence[Sequence[tuple[object, str | None]]]) -> int:
    """How many rows a report's title takes above the table's header: the leading rows that
    are empty or hold one cell (`Sales report`, `Exported 2025-02-01`), when a row with two
    or more cells follows them; 0 when the first row has two or more."""
    for index, row in enumerate(rows):
        if sum(value is not None for value, _ in row) >= 2:
            return index
    return 0


def sheet_columns(
    rows: Sequence[Sequence[tuple[object, str | None]]],
    shown: str | Path,
    decimal: str,
    skip: int = 0,
) -> dict[str, list[str | None]]:
    """Header name -> the column's cell texts, from (value, number format) rows; the header
    is the row after the first `skip` (`skip_lines`, a report's title).

    Fatal: an empty header row, a header name given twice, and a value in a column whose
    header cell is empty. Columns with neither a name nor a value (formatting only) are not
    columns.
    """
    at = skip + 1  # the header's row number, as Excel shows it
    if len(rows) <= skip or all(value is None for value, _ in rows[skip]):
        raise WorkbookError(
            f"{shown}: row {at} is empty; the sheet's row {at} must name its columns"
            + ("" if skip else " (rows above a table: set skip_lines)")
        )
    header = [cell_text(value, fmt, ".") for value, fmt in rows[skip]]
    texts = [
        [cell_text(value, fmt, decimal) for value, fmt in row]
        for row in rows[skip + 1 :]
        if any(value is not None for value, _ in row)
    ]
    width = max([len(header), *map(len, texts)])
    columns: dict[str, list[str | None]] = {}
    first_cell: dict[str, str] = {}
    for index in range(width):
        letter = get_column_letter(index + 1)
        name = header[index] if index < len(header) else None
        values = [row[index] if index < len(row) else None for row in texts]
        if name is None:
            if any(v is not None for v in values):
                raise WorkbookError(
                    f"{shown}: column {letter} holds values but no name in row {at}; name it"
                    + ("" if skip else " (a title above the table's header: set skip_lines)")
                )
            continue
        if name in columns:
            raise WorkbookError(
                f"{shown}: row {at} names the column {name!r} twice ({first_cell[name]}{at} "
                f"and {letter}{at}); give each column its own name"
            )
        columns[name] = values
        first_cell[name] = letter
    return columns


def read_sheet(
    path: Path,
    sheet: str | None,
    shown: str | Path,
    limit: int | None = None,
    any_count: bool = False,
) -> tuple[tuple[str, ...], list[list[tuple]]]:
    """The workbook's sheet names and the chosen sheet's rows (the first `limit` of them) as
    (value, number format) cells (I/O). Without `sheet`, the first sheet, which must be the
    only one unless `any_count` (the starter samples the first of several)."""
    workbook = _open(path, shown)
    try:
        names = tuple(workbook.sheetnames)
        if sheet is None and len(names) > 1 and not any_count:
            raise WorkbookError(
                f"{shown}: the workbook holds {len(names)} sheets ({', '.join(names)}); "
                "set `sheet:` on the source to the one to read"
            )
        chosen = names[0] if sheet is None else sheet
        if chosen not in names:
            raise WorkbookError(
                f"{shown}: no sheet named {sheet!r}; the workbook's sheets: {', '.join(names)}"
            )
        worksheet = workbook[chosen]
        worksheet.reset_dimensions()  # some writers record no size or a wrong one: read all
        return names, [
            [(cell.value, getattr(cell, "number_format", None)) for cell in row]
            for row in itertools.islice(worksheet.iter_rows(), limit)
        ]
    finally:
        workbook.close()


def _open(path: Path, shown: str | Path) -> openpyxl.Workbook:
    with path.open("rb") as handle:
        if handle.read(len(OLE2_MAGIC)) == OLE2_MAGIC:
            raise WorkbookError(
                f"{shown}: an Excel 97-2003 workbook (.xls), which the ingest does not read; "
                "save it as .xlsx or CSV"
            )
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise WorkbookError(f"{shown}: not a readable .xlsx workbook ({error})") from None


def sheet_to_parquet(
    path: Path, sheet: str | None, decimal: str, target: Path, shown: str | Path, skip: int = 0
) -> Path:
    """Write one sheet as a Parquet file of text columns (see the module docstring), its
    header the row after the first `skip`."""
    _, rows = read_sheet(path, sheet, shown)
    columns = sheet_columns(rows, shown, decimal, skip)
    table = pa.table(
        {name: pa.array(values, type=pa.string()) for name, values in columns.items()}
    )
    pq.write_table(table, target)
    return target
