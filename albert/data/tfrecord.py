"""TFRecord files of `tf.train.Example`s, written without TensorFlow.

The data tools run in worker processes that should not pay for importing TensorFlow (about
half a gigabyte and seconds per process), so this module encodes the two protobuf messages it
needs by hand:

    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }
    Feature  { FloatList float_list = 2; Int64List int64_list = 3; }   (packed repeated values)

and frames records as TFRecord does: little-endian uint64 length, masked CRC32C of the length,
the data, masked CRC32C of the data. `tf.data.TFRecordDataset` and `tf.io.parse_example` read the
result (tested).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Mapping, Sequence
from typing import BinaryIO

import google_crc32c
import numpy as np

from albert import files

_MASK_DELTA = 0xA282EAD8


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_SMALL_VARINTS = [_varint(v) for v in range(1 << 16)]  # table for ids below 65536


def encode_varints(values: Sequence[int]) -> bytes:
    """Protobuf varints of non-negative integers (token ids, positions, flags)."""
    values = [int(v) for v in values] if isinstance(values, np.ndarray) else values
    if not values:
        return b""
    largest = max(values)
    if largest < 128:
        return bytes(values)  # one byte each
    if largest < len(_SMALL_VARINTS) and min(values) >= 0:
        return b"".join(map(_SMALL_VARINTS.__getitem__, values))
    if min(values) < 0:
        raise ValueError("negative int64 values are not supported")
    return b"".join(map(_varint, values))


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (field numbers here are below 16: a one-byte tag)."""
    size = len(payload)
    length = _SMALL_VARINTS[size] if size < len(_SMALL_VARINTS) else _varint(size)
    return bytes((number << 3 | 2,)) + length + payload


def int64_feature(values: Sequence[int]) -> bytes:
    return packed_int64_feature(encode_varints(values))


def packed_int64_feature(varints: bytes) -> bytes:
    """An Int64List feature from its values already encoded as varints."""
    return _field(3, _field(1, varints))


def float_feature(values) -> bytes:
    return float_feature_bytes(np.asarray(values, dtype="<f4").tobytes())


def float_feature_bytes(little_endian_float32: bytes) -> bytes:
    """A FloatList feature from its values as little-endian float32 bytes."""
    return _field(2, _field(1, little_endian_float32))


def encode_example(features: Mapping[str, bytes]) -> bytes:
    """A serialized `tf.train.Example` from {name: int64_feature(...) or float_feature(...)}."""
    entries = b"".join(_field(1, _field(1, name.encode()) + _field(2, feature)) for name, feature in features.items())
    return _field(1, entries)


def frame_record(data: bytes) -> bytes:
    """One TFRecord: length, its CRC, the data, its CRC."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data))


class ShardedWriter:
    """Writes framed records round-robin into several files, atomically: each file is written
    under a hidden temporary name (`albert.files`) and renamed only when `close()` succeeds; `abort()` (or an exception
    inside a `with` block) removes the temporary files, so no half-written output is left. A
    failure to create, close or rename them removes them too (files renamed before it stay)."""

    def __init__(self, paths: Sequence[str]):
        self.paths = list(paths)
        self._tmp = [files.temporary_path(p) for p in self.paths]
        for path in self.paths:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            files.remove_stale_temporaries(path)  # a killed run's partial file
        self._files: list[BinaryIO] = []
        try:
            for tmp in self._tmp:
                self._files.append(open(tmp, "wb"))
        except BaseException:
            self.abort()
            raise
        self._next = 0
        self.records_per_file = [0] * len(self.paths)

    def write(self, framed_record: bytes) -> None:
        self._files[self._next].write(framed_record)
        self.records_per_file[self._next] += 1
        self._next = (self._next + 1) % len(self._files)

    def close(self) -> None:
        try:
            for f in self._files:
                f.close()  # a full disk shows here, before any output is replaced
            for tmp, path in zip(self._tmp, self.paths):
                os.replace(tmp, path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Closes and removes every temporary file still there; never raises for one."""
        for f in self._files:
            with contextlib.suppress(OSError):
                f.close()
        for tmp in self._tmp:
            with contextlib.suppress(OSError):  # absent: never opened, or already renamed
                os.remove(tmp)

    def __enter__(self) -> ShardedWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
