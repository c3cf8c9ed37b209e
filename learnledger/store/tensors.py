"""Deterministic safetensors bytes, and a strict reader that checks before it allocates.

Weights are what groups exchange, and their sha256 is what the contract records, so the same
tensors must give the same bytes in every process, run and Keras backend. The safetensors format is
simple (an 8-byte little-endian header length, a JSON header, then the raw tensor data) and we write
it ourselves so that nothing about it is left to a library version:

- tensors are laid out by descending item size, then by name (every tensor then starts on a
  multiple of its own item size, as safetensors' own writer arranges), and the JSON header lists
  them in that order, with no metadata and no spaces;
- data is C-order, little-endian, whatever the host;
- the header is padded with spaces to a multiple of 8 bytes, as safetensors pads it.

For float32-only models (the usual case) the bytes are identical to ``safetensors.numpy.save``;
the tests check that, and that safetensors' own loader reads every file we write.

Bytes from a peer are untrusted. ``decode_tensors`` checks the header completely (length against
the data, known dtypes, shapes against byte counts, offsets contiguous and in bounds) before it
makes a single array, and the arrays it returns are read-only views over the input: a header that
claims gigabytes is refused without allocating them. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping

import numpy as np

DEFAULT_MAX_BYTES = 4 * 1024**3
"""Largest weights file ``decode_tensors`` accepts by default (4 GiB; ResNet50V2 is about 100 MB)."""

MAX_HEADER_BYTES = 100_000_000
"""Largest JSON header accepted (safetensors' own limit)."""

_HEADER_ALIGNMENT = 8

_DTYPE_CODES: dict[str, str] = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint64": "U64",
    "uint32": "U32",
    "uint16": "U16",
    "uint8": "U8",
    "bool": "BOOL",
}
"""numpy dtype name -> safetensors dtype code, for the dtypes numpy knows natively."""

try:  # bfloat16 (mixed-precision models) comes from ml_dtypes, a dependency of Keras' backends
    import ml_dtypes

    _BFLOAT16: np.dtype | None = np.dtype(ml_dtypes.bfloat16)
    _DTYPE_CODES["bfloat16"] = "BF16"
except ImportError:  # pragma: no cover - ml_dtypes ships with every Keras backend
    _BFLOAT16 = None

_NUMPY_DTYPES: dict[str, np.dtype] = {
    code: (_BFLOAT16 if name == "bfloat16" else np.dtype(name).newbyteorder("<"))  # type: ignore[misc]
    for name, code in _DTYPE_CODES.items()
}
"""safetensors dtype code -> the little-endian numpy dtype its bytes are read as."""


class WeightsError(ValueError):
    """Root of every error about weights bytes: the message names the tensor or offset and what to do."""


class MalformedWeights(WeightsError):
    """The bytes are not a well-formed safetensors file (truncated, bad header, bad offsets)."""


class NotSafetensors(MalformedWeights):
    """The bytes are another format altogether (a pickle, a zip archive, HDF5); never loaded."""


class WeightsTooLarge(MalformedWeights):
    """The file (or what its header claims) is larger than the caller allows."""


class WeightsMismatch(WeightsError):
    """Well-formed weights whose tensor names, shapes or dtypes do not fit the model."""


Expectation = Mapping[str, tuple[tuple[int, ...], str]]
"""Tensor name -> (shape, numpy dtype name such as "float32"): what a model expects to load."""


# ---------------------------------------------------------------------------------------- writing


def encode_tensors(tensors: Mapping[str, np.ndarray]) -> bytes:
    """Serialise named tensors to deterministic safetensors bytes.

    Args:
        tensors: tensor name -> array; names are non-empty strings other than ``__metadata__``;
            dtypes are float16/32/64, bfloat16, (u)int8..64 or bool.

    Raises:
        WeightsError: a name or dtype that safetensors cannot carry (the message names it).
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        _check_name(name)
        array = np.asarray(value)
        code = _code_of(array.dtype, name)
        arrays[name] = np.array(array, dtype=_NUMPY_DTYPES[code], order="C", copy=None)

    order = sorted(arrays, key=lambda name: (-arrays[name].dtype.itemsize, name))
    header: dict[str, object] = {}
    offset = 0
    for name in order:
        array = arrays[name]
        header[name] = {
            "dtype": _code_of(array.dtype, name),
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % _HEADER_ALIGNMENT)
    parts: list[object] = [struct.pack("<Q", len(header_bytes)), header_bytes]
    parts.extend(arrays[name].reshape(-1).view(np.uint8) for name in order)
    return b"".join(parts)  # type: ignore[arg-type]  # numpy arrays are bytes-like


def sha256_digest(data: bytes) -> bytes:
    """The 32-byte sha256 of ``data``: the digest the contract records for a proposal."""
    return hashlib.sha256(data).digest()


def non_finite_tensors(tensors: Mapping[str, np.ndarray]) -> list[str]:
    """Names of the tensors holding a NaN or an infinity, sorted.

    Diverged weights are a property a voter votes against, not a reason to crash.
    """
    bad = []
    for name, array in tensors.items():
        if array.dtype.kind == "f" or array.dtype == _BFLOAT16:
            if not np.isfinite(array.astype(np.float32, copy=False) if array.dtype == _BFLOAT16
                               else array).all():
                bad.append(name)
    return sorted(bad)


# ---------------------------------------------------------------------------------------- reading


def decode_tensors(
    data: bytes,
    expected: Expectation | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, np.ndarray]:
    """Read safetensors bytes into named arrays, after checking everything about them.

    Args:
        data: the bytes, untrusted (from a peer or a store).
        expected: if given, the exact tensor names, shapes and dtypes the caller will load
            (default None: any well-formed file).
        max_bytes: refuse files larger than this (default ``DEFAULT_MAX_BYTES``, 4 GiB).

    Returns:
        name -> read-only array viewing ``data`` (no copy), in file order.

    Raises:
        NotSafetensors: a pickle, zip or HDF5 payload (never unpickled).
        MalformedWeights: truncated data, a bad header, or bad offsets.
        WeightsTooLarge: the file is larger than ``max_bytes``.
        WeightsMismatch: the tensors differ from ``expected`` (every difference is listed).
    """
    view = memoryview(data).cast("B")
    _refuse_foreign_formats(view)
    if len(view) > max_bytes:
        raise WeightsTooLarge(
            f"weights file of {len(view):,} bytes exceeds the limit of {max_bytes:,} bytes; "
            "pass a larger max_bytes if this model really is that big")
    if len(view) < 8:
        raise MalformedWeights(
            f"weights file is {len(view)} bytes, shorter than the 8-byte safetensors header length; "
            "the bytes are truncated: fetch them again")
    (header_length,) = struct.unpack_from("<Q", view, 0)
    if header_length > MAX_HEADER_BYTES:
        raise WeightsTooLarge(
            f"safetensors header claims {header_length:,} bytes, over the {MAX_HEADER_BYTES:,}-byte "
            "limit: these bytes are not safetensors, or are corrupted")
    if 8 + header_length > len(view):
        raise MalformedWeights(
            f"safetensors header claims {header_length:,} bytes but only {len(view) - 8:,} follow "
            "the length field: the bytes are truncated or are not safetensors")
    entries = _parse_header(bytes(view[8:8 + header_length]))
    data_start = 8 + header_length
    _check_layout(entries, available=len(view) - data_start)
    if expected is not None:
        _check_expected(entries, expected)
    arrays: dict[str, np.ndarray] = {}
    for name, (code, shape, begin, end) in entries.items():
        array = np.frombuffer(view, dtype=_NUMPY_DTYPES[code], count=math.prod(shape),
                              offset=data_start + begin).reshape(shape)
        array.flags.writeable = False
        arrays[name] = array
    return arrays


_PICKLE_PROTOCOL_MARK = 0x80
_FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive (a PyTorch .pt/.pth checkpoint or a .keras file)"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 checkpoint)"),
    (b"\x93NUMPY", "a numpy .npy file (it may hold pickled objects)"),
)


def _refuse_foreign_formats(view: memoryview) -> None:
    head = bytes(view[:8])
    if len(head) >= 2 and head[0] == _PICKLE_PROTOCOL_MARK and 2 <= head[1] <= 5:
        raise NotSafetensors(
            f"this is a Python pickle (protocol {head[1]}), not safetensors; pickles can run code, "
            "so LearnLedger never loads them: export the weights as safetensors")
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            raise NotSafetensors(
                f"this is {what}, not safetensors: export the weights as safetensors")


_Entry = tuple[str, tuple[int, ...], int, int]
"""dtype code, shape, begin, end (data offsets relative to the end of the header)."""


def _parse_header(raw: bytes) -> dict[str, _Entry]:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedWeights(
            f"the safetensors header is not valid UTF-8 JSON ({error}); first bytes: {raw[:40]!r}: "
            "the bytes are not safetensors or are corrupted") from None
    if not isinstance(header, dict):
        raise MalformedWeights(
            f"the safetensors header must be a JSON object, received {type(header).__name__}")
    entries: dict[str, _Entry] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                    isinstance(value, str) for value in entry.values()):
                raise MalformedWeights("safetensors __metadata__ must map strings to strings")
            continue
        entries[name] = _parse_entry(name, entry)
    return entries


def _parse_entry(name: str, entry: object) -> _Entry:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise MalformedWeights(
            f"tensor {name!r}: header entry must hold exactly dtype, shape and data_offsets, "
            f"received {entry!r:.200}")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if code not in _NUMPY_DTYPES:
        raise MalformedWeights(
            f"tensor {name!r}: unknown or unsupported dtype {code!r}; "
            f"supported: {', '.join(sorted(_NUMPY_DTYPES))}")
    if not isinstance(shape, list) or not all(_is_count(size) for size in shape):
        raise MalformedWeights(
            f"tensor {name!r}: shape must be a list of non-negative integers, received {shape!r:.200}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(_is_count(offset) for offset in offsets) or offsets[0] > offsets[1]):
        raise MalformedWeights(
            f"tensor {name!r}: data_offsets must be [begin, end] with 0 <= begin <= end, "
            f"received {offsets!r:.200}")
    begin, end = offsets
    claimed = math.prod(shape) * _NUMPY_DTYPES[code].itemsize  # Python ints: no overflow
    if end - begin != claimed:
        raise MalformedWeights(
            f"tensor {name!r}: shape {tuple(shape)} of {code} needs {claimed:,} bytes but its "
            f"data_offsets [{begin}, {end}] span {end - begin:,}: the header is corrupted")
    return code, tuple(shape), begin, end


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_layout(entries: Mapping[str, _Entry], available: int) -> None:
    """Tensors must tile the data exactly: from 0, contiguous, ending where the bytes end."""
    position = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != position:
            raise MalformedWeights(
                f"tensor {name!r} starts at data offset {begin:,}, expected {position:,}: tensors must "
                "be contiguous with no gaps or overlaps; the header is corrupted")
        position = end
    if position > available:
        raise MalformedWeights(
            f"the header describes {position:,} bytes of tensor data but only {available:,} are "
            "present: the bytes are truncated, fetch them again")
    if position < available:
        raise MalformedWeights(
            f"{available - position:,} unexpected bytes follow the last tensor (data ends at offset "
            f"{position:,}): the bytes are corrupted or not safetensors")


def _check_expected(entries: Mapping[str, _Entry], expected: Expectation) -> None:
    problems = []
    missing = sorted(set(expected) - set(entries))
    unexpected = sorted(set(entries) - set(expected))
    if missing:
        problems.append(f"missing tensors {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors {_listed(unexpected)}")
    for name in sorted(set(expected) & set(entries)):
        want_shape, want_dtype = expected[name]
        code, shape, _, _ = entries[name]
        if tuple(want_shape) != shape:
            problems.append(f"tensor {name!r} has shape {shape}, the model expects {tuple(want_shape)}")
        want_code = _DTYPE_CODES.get(np.dtype(want_dtype).name) if want_dtype != "bfloat16" else "BF16"
        if want_code != code:
            problems.append(f"tensor {name!r} has dtype {code}, the model expects {want_dtype}")
    if problems:
        raise WeightsMismatch(
            "the weights do not fit the model: " + "; ".join(problems)
            + ". Were they made for another architecture?")


def _listed(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name or name == "__metadata__":
        raise WeightsError(
            f"tensor names must be non-empty strings other than '__metadata__', received {name!r}")


def _code_of(dtype: np.dtype, name: str) -> str:
    key = "bfloat16" if _BFLOAT16 is not None and dtype == _BFLOAT16 else dtype.name
    code = _DTYPE_CODES.get(key)
    if code is None:
        raise WeightsError(
            f"tensor {name!r} has dtype {dtype}, which safetensors cannot carry; "
            f"cast it to one of {', '.join(_DTYPE_CODES)}")
    return code
