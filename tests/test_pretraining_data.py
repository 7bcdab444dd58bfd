import numpy as np
import pytest
import tensorflow as tf

from albert.data.documents import InputError
from albert.data.pretraining import check_pretraining_records, make_pretraining_dataset

S, P = 16, 4


def google_style_file(path, first_id, count, with_token_boundary=True, seq_length=S):
    """Records written with TensorFlow's own writer, as Google's script does (BERT's lacks
    token_boundary). Record k has input_ids[1] == first_id + k, to identify it."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for k in range(count):
            ids = [2, first_id + k] + [3] * (seq_length - 2)
            features = {
                "input_ids": ids,
                "input_mask": [1] * seq_length,
                "segment_ids": [0] * seq_length,
                "masked_lm_positions": [1, 0, 0, 0],
                "masked_lm_ids": [7, 0, 0, 0],
                "next_sentence_labels": [k % 2],
            }
            if with_token_boundary:
                features["token_boundary"] = [1] * seq_length
            example = tf.train.Example()
            for name, values in features.items():
                example.features.feature[name].int64_list.value.extend(values)
            example.features.feature["masked_lm_weights"].float_list.value.extend([1.0, 0.0, 0.0, 0.0])
            writer.write(example.SerializeToString())
    return str(path)


def record_ids(dataset):
    return [int(i) for batch in dataset for i in batch["input_ids"][:, 1].numpy()]


@pytest.mark.parametrize("num_files,num_workers", [(3, 2), (1, 2), (2, 3), (4, 4)])
def test_workers_read_disjoint_parts_that_cover_the_data(tmp_path, num_files, num_workers):
    files = [google_style_file(tmp_path / f"part-{f}", 100 * f, 10) for f in range(num_files)]
    seen = []
    for worker in range(num_workers):
        dataset = make_pretraining_dataset(
            files, 4, S, P, is_training=False, num_workers=num_workers, worker_index=worker
        )
        seen.append(record_ids(dataset))
    everything = sorted(i for part in seen for i in part)
    assert everything == sorted(100 * f + k for f in range(num_files) for k in range(10))  # complete, disjoint
    assert all(part for part in seen)  # nobody idle


def test_training_batches_have_fixed_shapes_and_repeat(tmp_path):
    files = [
        google_style_file(tmp_path / "a", 0, 5),
        google_style_file(tmp_path / "b", 50, 5, with_token_boundary=False),
    ]
    dataset = make_pretraining_dataset(",".join(files), 4, S, P, seed=1)
    batches = list(dataset.take(50))  # 200 records from 10: it repeats
    for batch in batches:
        assert batch["input_ids"].shape == (4, S) and batch["input_ids"].dtype == tf.int32
        assert batch["masked_lm_positions"].shape == (4, P) and batch["masked_lm_weights"].dtype == tf.float32
        assert batch["next_sentence_labels"].shape == (4, 1)
    ids = [i for b in batches for i in b["input_ids"][:, 1].numpy()]
    assert set(ids) == set(range(5)) | set(range(50, 55))
    assert ids[:10] != sorted(ids[:10])  # shuffled
    assert len(ids) == 200


def test_check_records_reports_the_file_and_the_flag(tmp_path):
    good = google_style_file(tmp_path / "good", 0, 2)
    check_pretraining_records([good], S, P)
    longer = google_style_file(tmp_path / "long", 0, 2, seq_length=32)
    with pytest.raises(InputError) as err:
        check_pretraining_records([good, longer], S, P)
    assert "long: record 0 has 32 values of input_ids, expected 16; set --max_seq_length" in str(err.value)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty: no records"):
        check_pretraining_records([str(empty)], S, P)
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is not a tfrecord file at all")
    with pytest.raises(InputError, match="junk: not a readable TFRecord file"):
        check_pretraining_records([str(junk)], S, P)


def test_file_names_with_glob_characters(tmp_path):
    path = google_style_file(tmp_path / "part[1].tfrecord", 0, 3)
    assert len(record_ids(make_pretraining_dataset(path, 2, S, P, is_training=False))) == 3


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no input file matches"):
        make_pretraining_dataset(str(tmp_path / "none-*"), 4, S, P)


def test_reads_the_records_create_training_data_writes(tmp_path, sample_spm_model):
    from conftest import SAMPLE_TEXT

    from albert.data.instances import MaskingConfig
    from albert.data.pretraining_records import TokenizerSpec, create_pretraining_records

    out = str(tmp_path / "sample.tfrecord")
    stats = create_pretraining_records(
        [SAMPLE_TEXT],
        [out],
        TokenizerSpec(sample_spm_model),
        MaskingConfig(max_seq_length=64, max_predictions_per_seq=10),
        dupe_factor=1,
    )
    check_pretraining_records([out], 64, 10)
    batches = list(make_pretraining_dataset(out, 8, 64, 10, is_training=False))
    assert sum(len(b["input_ids"]) for b in batches) == stats.instances
    assert np.all(batches[0]["input_ids"][:, 0].numpy() == 2)
