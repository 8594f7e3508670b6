"""Writing datasets as CSV or Parquet, whole or batch by batch, byte-for-byte repeatably.

CSV: UTF-8, header row, ISO dates, empty cells for nulls. Parquet: one fixed arrow schema
per dataset, zstd level 1, a row group per batch; no timestamps anywhere.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import IO

import polars as pl
import pyarrow.parquet as pq

from metrics_cli.files import write_csv
from metrics_cli.synthetic.config import SCHEMAS, FileFormat, Schema

PARQUET_COMPRESSION = "zstd"
PARQUET_LEVEL = 1
# Columns whose values are (nearly) all different: dictionary encoding only costs time.
UNIQUE_COLUMNS: dict[str, frozenset[str]] = {
    "gp_encounters": frozenset({"encounter_id"}),
    "patients": frozenset({"patient_id"}),
}


def schema_of(dataset: str, frame: pl.DataFrame | None = None) -> Schema:
    """The dataset's columns and types; a dataset this generator does not define keeps its own."""
    if dataset in SCHEMAS:
        return SCHEMAS[dataset]
    if frame is None:
        raise KeyError(f"no schema for {dataset}")
    return dict(frame.schema)


def remove_previous(out: Path, dataset: str) -> None:
    """Delete an earlier run's file of `dataset` in either format, so only one remains."""
    for suffix in ("csv", "parquet"):
        (out / f"{dataset}.{suffix}").unlink(missing_ok=True)


class DatasetWriter:
    """Appends batches of one dataset to `out/<dataset>.<format>`; counts the rows."""

    def __init__(self, out: Path, dataset: str, file_format: FileFormat, schema: Schema) -> None:
        remove_previous(out, dataset)
        self.path = out / f"{dataset}.{file_format}"
        self.dictionary = [c for c in schema if c not in UNIQUE_COLUMNS.get(dataset, frozenset())]
        self.file_format = file_format
        self.schema = schema
        self.rows = 0
        self._csv: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._closed = False
        self._arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` with exactly the dataset's columns, in order, of the dataset's types."""
        return frame.select(list(self.schema)).cast(pl.Schema(self.schema))

    def write(self, frame: pl.DataFrame) -> None:
        """Append `frame` (its columns in any order; columns beyond the schema are dropped)."""
        if self._closed:
            raise ValueError(f"{self.path} is already closed")
        frame = self.conform(frame)
        if self.file_format == "csv":
            if self._csv is None:
                self._csv = self.path.open("wb")
                write_csv(frame, self._csv, include_header=True)
            else:
                write_csv(frame, self._csv, include_header=False)
        else:
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(
                    self.path,
                    self._arrow_schema,
                    compression=PARQUET_COMPRESSION,
                    compression_level=PARQUET_LEVEL,
                    use_dictionary=self.dictionary,
                )
            table = frame.to_arrow().cast(self._arrow_schema)
            self._parquet.write_table(table, row_group_size=max(1, frame.height))
        self.rows += frame.height

    def close(self) -> int:
        """Finish the file (a header-only or empty file if nothing was written)."""
        if self._closed:
            return self.rows
        if self._csv is None and self._parquet is None:
            self.write(pl.DataFrame(schema=self.schema))
        if self._csv is not None:
            self._csv.close()
        if self._parquet is not None:
            self._parquet.close()
        self._closed = True
        return self.rows


def write_frame(out: Path, dataset: str, frame: pl.DataFrame, file_format: FileFormat) -> int:
    """Write a whole dataset at once; returns the number of rows."""
    writer = DatasetWriter(out, dataset, file_format, schema_of(dataset, frame))
    with writer:
        writer.write(frame)
    return writer.rows
