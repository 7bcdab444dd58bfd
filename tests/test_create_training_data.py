import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, SAMPLE_TEXT, SCRIPT_ENV, shared_file

from albert.data.documents import InputError
from albert.data.instances import MaskingConfig
from albert.data.pretraining_records import TokenizerSpec, create_pretraining_records, output_paths
from albert.data.schema import pretraining_features

SCRIPT = os.path.join(ROOT, "data_preprocessing", "create_training_data.py")
CLS, SEP = 2, 3


def read_records(paths, max_seq_length, max_predictions):
    spec = {
        name: tf.io.FixedLenFeature([length], dtype)
        for name, (length, dtype) in pretraining_features(max_seq_length, max_predictions).items()
    }
    batches = tf.data.TFRecordDataset(paths).batch(4096).map(lambda r: tf.io.parse_example(r, spec))
    parts = list(batches.as_numpy_iterator())
    return {k: np.concatenate([p[k] for p in parts]) for k in spec}


def assert_valid(records, max_seq_length):
    """Every record follows Google's layout; returns nothing, raises on the first violation."""
    n = len(records["input_ids"])
    lengths = records["input_mask"].sum(1)
    for i in range(n):
        length = lengths[i]
        ids, mask, seg = records["input_ids"][i], records["input_mask"][i], records["segment_ids"][i]
        assert (mask[:length] == 1).all() and (mask[length:] == 0).all()
        assert (ids[length:] == 0).all() and (seg[length:] == 0).all()
        assert ids[0] == CLS and ids[length - 1] == SEP
        seps = [j for j in range(length) if ids[j] == SEP and records["token_boundary"][i][j] == 1]
        first_sep = seps[0]
        assert (seg[: first_sep + 1] == 0).all() and (seg[first_sep + 1 : length] == 1).all()
        weights = records["masked_lm_weights"][i]
        p = int(weights.sum())
        assert (weights[:p] == 1).all() and (weights[p:] == 0).all() and p >= 1
        positions = records["masked_lm_positions"][i][:p]
        assert (positions > 0).all() and (positions < length - 1).all() and (positions != first_sep).all()
        assert (np.diff(positions) > 0).all()
        labels = records["masked_lm_ids"][i][:p]
        assert not np.isin(labels, [0, CLS, SEP]).any()  # no special or padding token masked
        assert records["token_boundary"][i][0] == 1 and records["token_boundary"][i][length - 1] == 1
    assert set(np.unique(records["next_sentence_labels"])) <= {0, 1}
    assert lengths.max() <= max_seq_length


def make(tmp_path, spm, inputs=None, name="out", num_workers=1, shards=1, **overrides):
    masking = MaskingConfig(max_seq_length=64, max_predictions_per_seq=10)
    outputs = output_paths(str(tmp_path / name), shards)
    stats = create_pretraining_records(
        inputs or [SAMPLE_TEXT],
        outputs,
        TokenizerSpec(spm),
        masking,
        dupe_factor=overrides.pop("dupe_factor", 3),
        num_workers=num_workers,
        chunk_bytes=overrides.pop("chunk_bytes", 1500),
        **overrides,
    )
    return outputs, stats


def test_records_are_valid_and_summarised(tmp_path, sample_spm_model):
    outputs, stats = make(tmp_path, sample_spm_model)
    records = read_records(outputs, 64, 10)
    assert len(records["input_ids"]) == stats.instances > 40
    assert_valid(records, 64)
    assert stats.real_tokens == records["input_mask"].sum()
    assert stats.masked_tokens == records["masked_lm_weights"].sum()
    assert stats.sentence_order_positive == records["next_sentence_labels"].sum()
    assert 0.12 < stats.masked_tokens / stats.real_tokens < 0.17


def test_output_is_identical_for_one_and_two_workers(tmp_path, sample_spm_model):
    one, _ = make(tmp_path, sample_spm_model, name="one", num_workers=1, shards=2)
    two, _ = make(tmp_path, sample_spm_model, name="two", num_workers=2, shards=2)
    for a, b in zip(one, two):
        assert open(a, "rb").read() == open(b, "rb").read()
    other_seed, _ = make(tmp_path, sample_spm_model, name="seed", shards=2, seed=7)
    assert open(other_seed[0], "rb").read() != open(one[0], "rb").read()


def test_gzip_input_gives_the_same_records(tmp_path, sample_spm_model):
    packed = tmp_path / "sample.txt.gz"
    with open(SAMPLE_TEXT, "rb") as src, gzip.open(packed, "wb") as dst:
        dst.write(src.read())
    plain, _ = make(tmp_path, sample_spm_model, name="plain")
    zipped, _ = make(tmp_path, sample_spm_model, inputs=[str(packed)], name="zipped")
    assert open(plain[0], "rb").read() == open(zipped[0], "rb").read()


def test_empty_and_short_documents(tmp_path, sample_spm_model):
    text = tmp_path / "odd.txt"
    text.write_text("\n\n   \nOne lonely sentence.\n\n\n\nA second document.\nWith two lines.\n\n \t \n")
    outputs, stats = make(tmp_path, sample_spm_model, inputs=[str(text)], dupe_factor=5)
    assert stats.documents == 2 and stats.instances >= 5
    assert_valid(read_records(outputs, 64, 10), 64)


def test_invalid_utf8_names_file_and_offset(tmp_path, sample_spm_model):
    bad = tmp_path / "bad.txt"
    before = b"Good line.\nAnother good one.\nBad "
    bad.write_bytes(before + b"\xff byte here.\n")
    with pytest.raises(InputError) as err:
        make(tmp_path, sample_spm_model, inputs=[str(bad)], name="bad_out")
    message = str(err.value)
    assert f"bad.txt: line 3, byte offset {len(before)}: invalid UTF-8" in message and "--errors=replace" in message
    assert not any(p.name.startswith("bad_out") for p in tmp_path.iterdir())  # nothing half-written
    outputs, stats = make(tmp_path, sample_spm_model, inputs=[str(bad)], name="replaced", errors="replace")
    assert stats.instances > 0 and os.path.exists(outputs[0])


def run_script(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120, env=SCRIPT_ENV)


def test_help_lists_the_flags_and_exits_0():
    result = run_script("--help")
    assert result.returncode == 0, result.stderr
    assert "pretraining TFRecords" in result.stdout
    for flag in ("--input_file", "--output_file", "--spm_model_file", "--dupe_factor", "--num_workers"):
        assert flag in result.stdout


def test_command_line(tmp_path, sample_spm_model):
    out = tmp_path / "train.tfrecord"
    result = run_script(
        f"--input_file={SAMPLE_TEXT}",
        f"--output_file={out}",
        f"--spm_model_file={sample_spm_model}",
        "--max_seq_length=64",
        "--max_predictions_per_seq=10",
        "--dupe_factor=2",
        "--num_output_shards=2",
        "--num_workers=2",
    )
    assert result.returncode == 0, result.stderr
    assert "instances" in result.stdout
    summary = json.loads(open(f"{out}.summary.json").read())
    assert summary["instances"] > 0 and summary["settings"]["max_seq_length"] == 64
    records = read_records([f"{out}-00000-of-00002", f"{out}-00001-of-00002"], 64, 10)
    assert len(records["input_ids"]) == summary["instances"]


def test_command_line_errors_are_one_line(tmp_path, sample_spm_model):
    result = run_script(
        f"--input_file={tmp_path}/nothing*.txt", f"--output_file={tmp_path}/o", f"--spm_model_file={sample_spm_model}"
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "nothing*.txt: no input file matches" in result.stderr
    result = run_script(f"--input_file={SAMPLE_TEXT}", f"--output_file={tmp_path}/o", "--spm_model_file=/no/such.model")
    assert result.returncode == 1 and "/no/such.model: SentencePiece model not found" in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.data
def test_wiki_statistics_match_googles_script(tmp_path):
    corpus = shared_file("corpus", "wiki_sentences.txt")
    spm = shared_file("albert_spm", "30k-clean.reconstructed.model")
    outputs = [str(tmp_path / "wiki.tfrecord")]
    stats = create_pretraining_records(
        [corpus], outputs, TokenizerSpec(spm), MaskingConfig(max_seq_length=128), dupe_factor=1, num_workers=2
    )
    summary = stats.summary()
    # Google's create_pretraining_data.py on this corpus with these flags (the figures):
    # 8613 instances, masked fraction 0.149, n-gram runs [0.545, 0.273, 0.182], SOP label 1 53.5 %.
    assert summary["instances"] == pytest.approx(8613, rel=0.05)
    assert summary["masked_fraction"] == pytest.approx(0.149, abs=0.01)
    assert summary["sentence_order_label_1_fraction"] == pytest.approx(0.535, abs=0.01)
    for measured, google in zip(summary["masked_word_run_fractions"], [0.545, 0.273, 0.182]):
        assert measured == pytest.approx(google, abs=0.01)
    records = read_records(outputs, 128, 20)
    assert len(records["input_ids"]) == summary["instances"]
    assert_valid(records, 128)
