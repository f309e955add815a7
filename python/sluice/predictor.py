"""BatchPredictor: the native engine on pyarrow record batches, through the Arrow C Data Interface."""
from __future__ import annotations

import inspect
import os
import re
from typing import Iterable, Iterator, Sequence

import pyarrow as pa  # loads the Arrow C++ libraries the native module links against

from sluice import _native

MODES = ("run", "preprocess", "predict")
PRECISIONS = ("auto", "fp32", "tf32", "fp16", "bf16")


def check_arguments(mode: str, precision: str, model) -> None:
    """Raises ValueError for a mode, precision or model that no predictor can run with."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if mode != "preprocess" and not model:
        raise ValueError("a model file is needed unless mode='preprocess'")


def has_cuda() -> bool:
    """True when this build of sluice has the CUDA backend and a GPU is visible (device 'auto' uses it)."""
    return _native.has_cuda()


def _keyword_names(error: Exception, keywords) -> Exception:
    """The engine's messages name CLI flags (--crop-size); in Python the same error names the keyword
    argument (crop_size). Returns an exception of the same type with the names replaced."""
    def name(match):
        keyword = match.group(1).replace("-", "_")
        return keyword if keyword in keywords else match.group(0)
    message = re.sub(r"--([a-z][a-z-]*)", name, str(error))
    return type(error)(message) if message != str(error) else error


def _export(batch: pa.RecordBatch) -> "_native.CData":
    if not isinstance(batch, pa.RecordBatch):
        raise TypeError(f"expected a pyarrow.RecordBatch, got {type(batch).__module__}.{type(batch).__name__}")
    data = _native.CData()
    batch._export_to_c(data.array_address, data.schema_address)
    return data


class BatchPredictor:
    """Runs sluice's engine on record batches with an image column.

    mode: "run" (images in, predictions out), "preprocess" (images in, uint8 center crops out, no
    model), "predict" (crops in, predictions out). Output columns are those of the CLI (README,
    "Output"): path, row, label, topk_labels, topk_scores, [logits], error, then the `pass_through`
    columns.

    `path`/`row` come from `path_column`/`row_column` when given (string/int64 input columns), else
    `source_path` for every row and a running row count from `first_row`. In "predict" mode a
    non-null `error_column` value marks a row that already failed upstream.

    The native work (preprocessing on `cpu_workers` threads, inference on `threads` threads) runs
    without the GIL.
    """

    def __init__(self, model: str | None = None, *, mode: str = "run", image_column: str = "image",
                 image_shape: Sequence[int] = (256, 256, 3), crop_size: int = 224, normalize: str = "imagenet",
                 topk: int = 5, logits: bool = False, device: str = "cpu", batch_size: int = 0,
                 precision: str = "auto", cpu_workers: int = 0, threads: int = 0,
                 pass_through: Sequence[str] = (), path_column: str | None = None, row_column: str | None = None,
                 source_path: str = "", first_row: int = 0, error_column: str | None = None,
                 variable_size_lists: bool = False):
        check_arguments(mode, precision, model)
        if model and not os.path.isfile(model):
            raise FileNotFoundError(f"model {model} does not exist (or is not a file)")
        options = _native.Options()
        options.mode = mode
        options.model = str(model or "")
        options.image_column = image_column
        options.image_shape = tuple(int(v) for v in image_shape)
        options.crop_size = int(crop_size)
        options.normalize = normalize
        options.topk = int(topk)
        options.logits = bool(logits)
        options.device = device
        options.precision = precision
        options.batch_size = int(batch_size or 0)
        options.cpu_workers = int(cpu_workers or 0)
        options.threads = int(threads or 0)
        options.pass_through = list(pass_through)
        options.path_column = path_column or ""
        options.row_column = row_column or ""
        options.source_path = source_path
        options.first_row = int(first_row)
        options.error_column = error_column or ""
        options.variable_size_lists = bool(variable_size_lists)
        try:
            self._native = _native.Predictor(options)
        except ValueError as error:
            raise _keyword_names(error, _KEYWORDS) from None

    def _submit(self, batch: pa.RecordBatch) -> None:
        try:
            self._native.submit(_export(batch))
        except ValueError as error:
            raise _keyword_names(error, _KEYWORDS) from None

    @property
    def device_name(self) -> str:
        return self._native.device_name

    @property
    def batch_size(self) -> int:
        return self._native.batch_size

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        """The schema of the output for input batches of `input_schema`."""
        source = _native.CData()
        input_schema._export_to_c(source.schema_address)
        out = _native.CData()
        self._native.output_schema(source, out)
        return pa.Schema._import_from_c(out.schema_address)

    def _collect(self) -> pa.RecordBatch:
        out = _native.CData()
        self._native.collect(out)
        return pa.RecordBatch._import_from_c(out.array_address, out.schema_address)

    def predict(self, batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
        """One batch in, its output rows out (in input order); a Table in, a Table out."""
        if isinstance(batch, pa.Table):
            # One batch per call (no batch held in flight across an exception), chunks coalesced so
            # small chunks do not each cost a padded batch.
            outputs = [self.predict(piece) for piece in batch.combine_chunks().to_batches()]
            if not outputs:  # a table with no batches at all
                return self.output_schema(batch.schema).empty_table()
            return pa.Table.from_batches(outputs)
        self._submit(batch)
        return self._collect()

    def map_batches(self, batches: Iterable[pa.RecordBatch], max_rows: int = 0) -> Iterator[pa.RecordBatch]:
        """Output batches for a stream of input batches, one per input batch (or per slice of at most
        `max_rows` rows when given). Batch n+1 is preprocessed while batch n runs through the model."""
        for batch in batches:
            if isinstance(batch, pa.Table):
                pieces = batch.to_batches()
            else:
                pieces = [batch]
            for piece in pieces:
                step = max_rows if max_rows > 0 else max(piece.num_rows, 1)
                for start in range(0, max(piece.num_rows, 1), step):
                    self._submit(piece.slice(start, step))
                    while self._native.pending > 1:
                        yield self._collect()
        while self._native.pending > 0:
            yield self._collect()


# The keyword arguments of BatchPredictor, which its errors name instead of the CLI's flags.
_KEYWORDS = frozenset(inspect.signature(BatchPredictor.__init__).parameters) - {"self"}
