"""Reading a CSV or Parquet file as Arrow columns, for the command-line inputs.

One reader for ``detect``, ``evaluate`` and ``concentration``: pyarrow's
multi-threaded CSV parser (or its Parquet reader) turns the file into columns, and
callers check those columns with vectorised masks instead of a Python loop per row
(docs/cli.md, "Input files"). pyarrow rather than polars: pandas reads and writes
Arrow natively (``pd.ArrowDtype``, zero-copy numeric columns), and pyarrow alone
gives both the CSV and the Parquet reader.

Cells are read as text (``NA`` stays Namibia, ``007`` keeps its zeros) so that the
callers can name a bad cell exactly as written. Row numbers: a CSV's lines with the
header as row 1 (a blank line keeps its number); a Parquet file's rows counted from 1.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

# pyarrow.compute and pyarrow.parquet are imported where they are used: a CSV's parse
# needs neither, and ``concentration`` starts it before they are loaded (0.06 s sooner).

__all__ = ["PARQUET_SUFFIXES", "WHOLE_FILE_BLOCK", "ColumnarFile", "TableFileError", "as_text", "is_parquet",
           "parquet_records", "return_freed_memory", "read_columns"]

#: File names read as Parquet (any other is read as CSV, unless it starts with Parquet's magic bytes).
PARQUET_SUFFIXES = (".parquet", ".pq")
_PARQUET_MAGIC = b"PAR1"
#: Bytes per block of a whole-file parse (``read_columns(whole=True)``): 36 blocks for
#: 5,000,000 flow rows (142 MiB) keep 2 cores busy; Arrow's default 1 MiB made 143
#: chunks for no gain (2026-12-07).
WHOLE_FILE_BLOCK = 4 << 20


class TableFileError(ValueError):
    """The whole file is unusable; the message names the file."""


@dataclass
class ColumnarFile:
    """The columns of a file that a command asked for.

    Attributes
    ----------
    columns : dict of str to pyarrow.Array
        One array per requested column present in the file: text for a CSV (a
        ``pyarrow.DictionaryArray`` of text for the columns asked for as ``dictionary``,
        float64 for those asked for as ``numbers`` where every cell is a number); for a
        Parquet file the stored type (callers cast).
    first_row : int
        Row number of the first data row (2 for a CSV, whose header is row 1; 1 for Parquet).
    ragged : list of tuple
        ``(line number, cells, expected)`` of CSV lines with a wrong number of cells;
        they are not in ``columns``.
    """

    columns: dict[str, pa.Array]
    first_row: int
    ragged: list[tuple[int, int, int]]

    @property
    def rows(self) -> int:
        """Number of data rows read."""
        return len(next(iter(self.columns.values()))) if self.columns else 0


def return_freed_memory() -> None:
    """Make Arrow hand freed memory back to the OS at once (jemalloc, decay 0), where
    this pyarrow has jemalloc; otherwise leave the allocator as it is.

    For a command that reads one large file and then computes on arrays: Arrow's
    default allocator (mimalloc) keeps the pages of the file's text after it is freed,
    so the arrays built from it come on top of them. Reading and checking 100,000
    series x 240 months (560 MiB CSV) peaked at 1,748 MiB with mimalloc, 1,129 MiB
    with jemalloc at decay 0 (2026-12-07, docs/benchmarks.md).
    """
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:  # a pyarrow built without jemalloc
        pass


def is_parquet(path: Path) -> bool:
    """A Parquet file: by its suffix, or by its first four bytes."""
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == _PARQUET_MAGIC
    except OSError:
        return False


def read_columns(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = (),
                 what: str | None = None, whole: bool = False, dictionary: tuple[str, ...] = (),
                 numbers: tuple[str, ...] = ()) -> ColumnarFile:
    """Read the ``required`` (and present ``optional``) columns of a CSV or Parquet file.

    Parameters
    ----------
    path : Path
        The file.
    required, optional : tuple of str
        Column names (header cells are compared after trimming spaces).
    what : str, optional
        The expected header, for the message about an empty file.
    whole : bool, default False
        Parse a CSV's blocks on all cores at once (``pyarrow.csv.read_csv``) rather than
        streaming them one after the other: about half the wall time on 2 cores, but the
        parser holds buffers of the whole file. Off for ``detect``, whose peak memory
        is bounded by a multiple of the file (docs/benchmarks.md).
    dictionary : tuple of str, default ()
        Columns of a CSV to parse dictionary-encoded (``pyarrow.DictionaryArray`` of
        text, one dictionary for the whole column): for code columns with few distinct
        values the parser hashes each cell on its threads instead of building a string
        per cell that the caller would then hash (5,000,000 flow rows: 0.3 s less,
        2026-12-07). A Parquet file's columns come as stored.
    numbers : tuple of str, default ()
        Columns of a CSV to parse as float64 on the parser's threads. Where one of their
        cells is not a number as Arrow reads it (an empty cell included), the whole file
        is read again with them as text, for the caller to name the cell: so a float64
        column holds every cell's number, and a text one has a bad cell. 5,000,000 flow
        rows: 0.1-0.15 s less than text cast to float64 afterwards (2026-12-07).

    Raises
    ------
    TableFileError
        Missing or unreadable file (not UTF-8, broken quoting, not Parquet), no header,
        missing columns, or no data rows.
    """
    path = Path(path)
    if not path.is_file():
        raise TableFileError(f"{path}: file not found")
    header = ",".join(required)
    if is_parquet(path):
        return _read_parquet(path, required, optional)
    names = _csv_header(path, what or header)
    missing = [c for c in required if c not in names]
    if missing:
        raise TableFileError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(names)})")
    wanted = [c for c in (*required, *optional) if c in names]
    ragged: list[tuple[int | None, int, int]] = []

    def on_invalid(row) -> str:  # noqa: ANN001 - pyarrow.csv.InvalidRow
        ragged.append((row.number, row.actual_columns, row.expected_columns))
        return "skip"

    index = {name: f"_{names.index(name)}" for name in wanted}
    codes = pa.dictionary(pa.int32(), pa.string())

    def parse(as_numbers: tuple[str, ...]) -> pa.Table:
        # The header is parsed by us (trimmed, BOM dropped) and skipped by Arrow; every
        # other cell stays text and empty cells stay "" (not null); a number column has
        # no null text, so that an empty cell fails its parse.
        ragged.clear()
        read = pa_csv.ReadOptions(skip_rows=1, column_names=[f"_{i}" for i in range(len(names))])
        parsing = pa_csv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False)
        types = {col: codes if name in dictionary else pa.float64() if name in as_numbers else pa.string()
                 for name, col in index.items()}
        convert = pa_csv.ConvertOptions(include_columns=list(index.values()), column_types=types,
                                        strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[])
        if whole:
            read.block_size = WHOLE_FILE_BLOCK
            table = pa_csv.read_csv(path, read_options=read, parse_options=parsing, convert_options=convert)
        else:
            table = _stream_csv(path, read, parsing, convert)
        if any(number is None for number, _, _ in ragged):
            # Arrow numbers lines only when reading on one thread: read again to name them
            ragged.clear()
            read.use_threads = False
            table = _stream_csv(path, read, parsing, convert)
        return table

    try:
        try:
            table = parse(tuple(name for name in numbers if name in index))
        except pa.ArrowInvalid:
            if not numbers:
                raise
            table = parse(())  # a cell of a number column is not a number: all as text, for the caller to name it
    except (pa.ArrowInvalid, OSError) as err:
        raise TableFileError(f"{path}: not a readable CSV file: {_first_line(err)}") from None
    if table.num_rows == 0 and ragged:
        number, cells, expected = ragged[0]
        raise TableFileError(f"{path}: not a readable CSV file: line {number} has {cells} cell(s) where the header "
                             f"has {expected}")
    if table.num_rows == 0:
        raise TableFileError(f"{path}: no data rows after the header")
    if whole:  # the whole file is in memory anyway: the columns are copied on all cores
        with ThreadPoolExecutor() as pool:
            return ColumnarFile(dict(zip(index, pool.map(lambda col: table.column(col).combine_chunks(),
                                                         index.values()))), 2, ragged)
    columns = {}
    for name, col in index.items():  # one column's copy at a time: the peak stays near the file's size
        columns[name] = table.column(col).combine_chunks()
        table = table.drop_columns([col])
    return ColumnarFile(columns, 2, ragged)


def _stream_csv(path: Path, read, parse, convert) -> pa.Table:  # noqa: ANN001 - pyarrow.csv options
    # A streaming read holds the table and one block, not also the parser's whole-file
    # buffers: 100,000 series x 240 months (560 MiB) peaked at 1,266 MiB instead of 1,407.
    with pa_csv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as reader:
        return pa.Table.from_batches(list(reader), schema=reader.schema)


def _csv_header(path: Path, expected: str) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            line = handle.readline()
    except (OSError, UnicodeDecodeError) as err:
        raise TableFileError(f"{path}: not a readable CSV file: {err}") from None
    names = [cell.strip().strip('"').strip() for cell in line.rstrip("\r\n").split(",")]
    if not any(names):
        raise TableFileError(f"{path}: empty file (expected a header {expected} and data rows)")
    return names


def _read_parquet(path: Path, required: tuple[str, ...], optional: tuple[str, ...]) -> ColumnarFile:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        names = list(schema.names)
        missing = [c for c in required if c not in names]
        if missing:
            raise TableFileError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(names)})")
        wanted = [c for c in (*required, *optional) if c in names]
        table = pq.read_table(path, columns=wanted)
    except (pa.ArrowInvalid, OSError) as err:
        raise TableFileError(f"{path}: not a readable Parquet file: {_first_line(err)}") from None
    if table.num_rows == 0:
        raise TableFileError(f"{path}: no data rows")
    return ColumnarFile({name: table.column(name).combine_chunks() for name in wanted}, 1, [])


def parquet_records(raw: bytes) -> list[dict[str, str]]:
    """The rows of a Parquet file's bytes as ``{column: text}`` records, as a CSV's rows read.

    Raises
    ------
    TableFileError
        Not a Parquet file (the message has no file name: the caller adds it).
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowInvalid, OSError) as err:
        raise TableFileError(f"not a readable Parquet file: {_first_line(err)}") from None
    columns = {name: as_text(table.column(name).combine_chunks()).to_pylist() for name in table.column_names}
    return [dict(zip(columns, cells)) for cells in zip(*columns.values())]


def as_text(array: pa.Array) -> pa.Array:
    """A column as text without nulls (a Parquet null is an empty cell, as in a CSV)."""
    import pyarrow.compute as pc

    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
            array = pc.strftime(array, format="%Y-%m-%d")
        else:
            array = pc.cast(array, pa.string())
    return pc.fill_null(array, "") if array.null_count else array


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
