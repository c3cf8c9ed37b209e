"""The safetensors codec: deterministic bytes, a strict reader, and every refusal it owes."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from learnledger.store.tensors import (
    MalformedWeights,
    NotSafetensors,
    WeightsError,
    WeightsMismatch,
    WeightsTooLarge,
    decode_tensors,
    encode_tensors,
    non_finite_tensors,
    sha256_digest,
)


def sample() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "dense/kernel": rng.standard_normal((4, 3)).astype(np.float32),
        "dense/bias": rng.standard_normal(3).astype(np.float32),
        "count": np.array([5, 6], dtype=np.int64),
        "scalar": np.array(2.5, dtype=np.float64),
        "empty": np.zeros((0, 2), dtype=np.float32),
        "mask": np.array([True, False]),
    }


def header_of(data: bytes) -> dict:
    (length,) = struct.unpack_from("<Q", data)
    return json.loads(data[8:8 + length])


def with_header(header: dict, payload: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


# ------------------------------------------------------------------------------- nominal workflow


def test_round_trip_keeps_names_shapes_dtypes_and_values():
    tensors = sample()
    decoded = decode_tensors(encode_tensors(tensors))
    assert set(decoded) == set(tensors)
    for name, array in tensors.items():
        assert decoded[name].shape == array.shape
        assert decoded[name].dtype == array.dtype
        np.testing.assert_array_equal(decoded[name], array)


def test_bytes_do_not_depend_on_insertion_order_byte_order_or_memory_layout():
    tensors = sample()
    reordered = dict(reversed(list(tensors.items())))
    reordered["dense/kernel"] = np.asfortranarray(tensors["dense/kernel"]).astype(">f4")
    assert encode_tensors(reordered) == encode_tensors(tensors)


def test_float32_model_bytes_are_identical_to_safetensors_own_writer():
    tensors = {name: array for name, array in sample().items() if array.dtype == np.float32}
    assert encode_tensors(tensors) == safetensors.numpy.save(tensors)


def test_safetensors_own_loader_reads_what_we_write():
    tensors = {name: array for name, array in sample().items() if name != "scalar"}
    loaded = safetensors.numpy.load(encode_tensors(tensors))
    assert set(loaded) == set(tensors)
    for name, array in tensors.items():
        np.testing.assert_array_equal(loaded[name], array)


def test_header_is_padded_to_eight_bytes_and_tensors_are_aligned():
    data = encode_tensors(sample())
    (length,) = struct.unpack_from("<Q", data)
    assert length % 8 == 0
    for entry in header_of(data).values():
        itemsize = {"F64": 8, "I64": 8, "F32": 4, "BOOL": 1}[entry["dtype"]]
        assert entry["data_offsets"][0] % itemsize == 0


def test_decoded_arrays_are_read_only_views():
    decoded = decode_tensors(encode_tensors(sample()))
    with pytest.raises(ValueError):
        decoded["dense/bias"][0] = 1.0


def test_bfloat16_round_trips():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    tensors = {"w": np.array([1.5, -2.0], dtype=ml_dtypes.bfloat16)}
    data = encode_tensors(tensors)
    assert header_of(data)["w"]["dtype"] == "BF16"
    np.testing.assert_array_equal(decode_tensors(data)["w"], tensors["w"])


def test_sha256_digest_is_32_bytes_and_changes_with_the_bytes():
    data = encode_tensors(sample())
    assert len(sha256_digest(data)) == 32
    assert sha256_digest(data) != sha256_digest(data[:-1] + bytes([data[-1] ^ 1]))


def test_non_finite_tensors_are_named_not_raised():
    tensors = sample()
    tensors["dense/bias"] = np.array([1.0, np.nan, 0.0], dtype=np.float32)
    tensors["dense/kernel"] = np.full((4, 3), np.inf, dtype=np.float32)
    assert non_finite_tensors(decode_tensors(encode_tensors(tensors))) == ["dense/bias", "dense/kernel"]
    assert non_finite_tensors(sample()) == []


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda name: name != "__metadata__"),
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int8, np.uint16, np.int64, np.bool_]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
    max_size=5))
def test_any_tensors_round_trip_bit_exactly_and_deterministically(tensors):
    data = encode_tensors(tensors)
    assert encode_tensors(dict(reversed(list(tensors.items())))) == data
    decoded = decode_tensors(data)
    assert set(decoded) == set(tensors)
    for name, array in tensors.items():
        assert decoded[name].shape == array.shape
        assert decoded[name].tobytes() == np.asarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


# ------------------------------------------------------------------------------------- refusals


def test_truncated_bytes_are_refused_with_the_missing_length():
    data = encode_tensors(sample())
    with pytest.raises(MalformedWeights, match="truncated"):
        decode_tensors(data[:-5])
    with pytest.raises(MalformedWeights, match="truncated"):
        decode_tensors(data[:20])
    with pytest.raises(MalformedWeights, match="truncated"):
        decode_tensors(data[:3])


def test_trailing_bytes_are_refused():
    with pytest.raises(MalformedWeights, match="unexpected bytes"):
        decode_tensors(encode_tensors(sample()) + b"\x00")


def test_non_safetensors_bytes_are_refused():
    with pytest.raises(MalformedWeights, match="not safetensors|not valid"):
        decode_tensors(b"hello, this is a text file and not weights at all")


def test_pickle_payload_is_refused_without_unpickling():
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("the pickle was executed",))

    for protocol in (2, 4, 5):
        with pytest.raises(NotSafetensors, match="pickle"):
            decode_tensors(pickle.dumps(Boom(), protocol=protocol))


def test_zip_and_hdf5_checkpoints_are_named_and_refused():
    with pytest.raises(NotSafetensors, match="zip"):
        decode_tensors(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(NotSafetensors, match="HDF5"):
        decode_tensors(b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)


def test_header_claiming_gigabytes_is_refused_without_allocating():
    # 2**40 float32 values would be 4 TiB: the check must compare the claim with the bytes present.
    forged = with_header({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 4 * 2**40]}},
                         b"\x00" * 16)
    with pytest.raises(MalformedWeights, match="truncated"):
        decode_tensors(forged)
    huge_header_length = struct.pack("<Q", 2**40) + b"{}"
    with pytest.raises(WeightsTooLarge, match="header claims"):
        decode_tensors(huge_header_length)


def test_files_over_the_size_limit_are_refused():
    data = encode_tensors(sample())
    with pytest.raises(WeightsTooLarge, match="max_bytes"):
        decode_tensors(data, max_bytes=len(data) - 1)


def test_shape_disagreeing_with_byte_count_is_refused():
    forged = with_header({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\x00" * 8)
    with pytest.raises(MalformedWeights, match="'w'.*needs 12 bytes"):
        decode_tensors(forged)


def test_overlapping_or_gapped_offsets_are_refused():
    overlapping = with_header({
        "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
        "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]},
    }, b"\x00" * 6)
    with pytest.raises(MalformedWeights, match="contiguous"):
        decode_tensors(overlapping)


def test_unknown_dtype_and_malformed_entries_are_refused():
    for entry, message in [
        ({"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}, "unknown or unsupported dtype 'F128'"),
        ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "non-negative"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}, "begin <= end"),
        ({"dtype": "F32", "shape": [1]}, "exactly dtype, shape and data_offsets"),
    ]:
        with pytest.raises(MalformedWeights, match=message):
            decode_tensors(with_header({"w": entry}, b"\x00" * 16))


def test_wrong_names_shapes_and_dtypes_are_all_listed():
    data = encode_tensors({"a": np.zeros((2, 3), np.float32), "b": np.zeros(4, np.float32),
                           "extra": np.zeros(1, np.float32)})
    expected = {"a": ((3, 2), "float32"), "b": ((4,), "float64"), "gone": ((1,), "float32")}
    with pytest.raises(WeightsMismatch) as caught:
        decode_tensors(data, expected=expected)
    message = str(caught.value)
    assert "missing tensors 'gone'" in message
    assert "unexpected tensors 'extra'" in message
    assert "'a' has shape (2, 3), the model expects (3, 2)" in message
    assert "'b' has dtype F32, the model expects float64" in message


def test_matching_expectation_is_accepted():
    tensors = sample()
    expected = {name: (array.shape, array.dtype.name) for name, array in tensors.items()}
    assert set(decode_tensors(encode_tensors(tensors), expected=expected)) == set(tensors)


def test_encoding_refuses_what_safetensors_cannot_carry():
    with pytest.raises(WeightsError, match="'w' has dtype complex64"):
        encode_tensors({"w": np.zeros(2, np.complex64)})
    with pytest.raises(WeightsError, match="__metadata__"):
        encode_tensors({"__metadata__": np.zeros(1, np.float32)})


def test_errors_are_value_errors_so_callers_can_catch_them_broadly():
    assert issubclass(WeightsError, ValueError)
