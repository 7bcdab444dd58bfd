import numpy as np
import pytest
import tensorflow as tf

from albert.data import tfrecord


def test_examples_parse_with_tensorflow(tmp_path):
    rng = np.random.default_rng(0)
    ints = [0, 1, 127, 128, 300, 16383, 16384, 65535, 65536, 2**21, 2**40] + rng.integers(0, 30000, 50).tolist()
    floats = rng.standard_normal(7).astype(np.float32)
    records = [
        tfrecord.encode_example({"ids": tfrecord.int64_feature(ints), "w": tfrecord.float_feature(floats)}),
        tfrecord.encode_example({"ids": tfrecord.int64_feature([5]), "w": tfrecord.float_feature([])}),
    ]
    path = tmp_path / "x.tfrecord"
    with tfrecord.ShardedWriter([str(path)]) as writer:
        for record in records:
            writer.write(tfrecord.frame_record(record))
    parsed = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path))]
    assert list(parsed[0].features.feature["ids"].int64_list.value) == ints
    np.testing.assert_array_equal(parsed[0].features.feature["w"].float_list.value, floats)
    assert list(parsed[1].features.feature["ids"].int64_list.value) == [5]
    # the same bytes as TensorFlow's own serialization of the same Example
    again = tf.train.Example()
    again.features.feature["ids"].int64_list.value.extend(ints)
    again.features.feature["w"].float_list.value.extend(floats.tolist())
    assert tf.train.Example.FromString(records[0]) == again


def test_checksums_are_checked_by_tensorflow(tmp_path):
    path = tmp_path / "x.tfrecord"
    data = bytearray(tfrecord.frame_record(tfrecord.encode_example({"a": tfrecord.int64_feature([1, 2, 3])})))
    path.write_bytes(bytes(data))
    assert len(list(tf.data.TFRecordDataset(str(path)))) == 1
    data[-6] ^= 0xFF  # corrupt the payload
    path.write_bytes(bytes(data))
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.TFRecordDataset(str(path)))


def test_negative_values_are_refused():
    with pytest.raises(ValueError, match="negative"):
        tfrecord.encode_varints([1, -1, 300])


def test_writer_is_atomic(tmp_path):
    paths = [str(tmp_path / f"out-{i}") for i in range(2)]
    with pytest.raises(RuntimeError):
        with tfrecord.ShardedWriter(paths) as writer:
            writer.write(b"x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with tfrecord.ShardedWriter(paths) as writer:
        for record in (b"a", b"b", b"c"):
            writer.write(record)
    assert [open(p, "rb").read() for p in paths] == [b"ac", b"b"]  # round-robin
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-0", "out-1"]
