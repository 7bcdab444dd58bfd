import glob
import gzip
import json
import os
import re
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


def test_windows_line_endings_give_the_same_records(tmp_path, sample_spm_model):
    # small chunks, so that counting each "\r" would move the chunk boundaries
    text = open(SAMPLE_TEXT, "rb").read()
    assert b"\r" not in text
    windows = tmp_path / "sample_crlf.txt"
    windows.write_bytes(text.replace(b"\n", b"\r\n").rstrip(b"\n"))  # and no final "\n"
    unix, unix_stats = make(tmp_path, sample_spm_model, name="unix", chunk_bytes=200)
    crlf, crlf_stats = make(tmp_path, sample_spm_model, inputs=[str(windows)], name="crlf", chunk_bytes=200)
    assert unix_stats.instances > 40
    assert open(unix[0], "rb").read() == open(crlf[0], "rb").read()
    assert unix_stats == crlf_stats


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


# ----------------------------------------------------------------------------------------------
# Damaged gzip input, unwritable outputs, outputs of an earlier run with another shard count
# ----------------------------------------------------------------------------------------------


def create(capsys, inputs, output, spm, *flags):
    """`albert-create-data` in this process: (exit status, stderr)."""
    from albert.data import create_training_data

    args = [f"--input_file={inputs}", f"--output_file={output}", f"--spm_model_file={spm}", "--max_seq_length=64"]
    status = create_training_data.main([*args, "--max_predictions_per_seq=10", "--dupe_factor=1", *flags])
    return status, capsys.readouterr().err


def one_line_error(status, stderr, *parts):
    assert status == 1 and stderr.count("\n") == 1 and stderr.startswith("create_training_data.py: error: "), stderr
    assert "Traceback" not in stderr and all(part in stderr for part in parts), stderr


def everything_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def damaged_gzip(tmp_path, damage):
    """A gzip of 20 copies of the sample text (several read buffers), damaged; (path, text)."""
    text = "\n".join([open(SAMPLE_TEXT, encoding="utf-8").read()] * 20).encode()
    packed = bytearray(gzip.compress(text, mtime=0))
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    elif damage == "corrupt":
        packed[10:30] = bytes(b ^ 0xFF for b in packed[10:30])  # the deflate data after the 10-byte header
    else:
        packed[-8] ^= 0xFF  # the CRC32 of the trailer
    path = tmp_path / "in" / "corpus.txt.gz"
    path.parent.mkdir()
    path.write_bytes(bytes(packed))
    return path, text


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "crc"])
def test_a_damaged_gzip_input_is_one_line_naming_the_place(damage, tmp_path, sample_spm_model, capsys):
    path, text = damaged_gzip(tmp_path, damage)
    out = tmp_path / "out" / "train.tfrecord"
    status, stderr = create(capsys, path, out, sample_spm_model, "--errors=replace")
    one_line_error(status, stderr, f"error: {path}: line ", "the gzip file is truncated or corrupt", "compress it")
    number, offset = map(int, re.search(r"line (\d+), byte offset (\d+) of the uncompressed text", stderr).groups())
    assert offset == len(b"".join(text.splitlines(keepends=True)[: number - 1]))  # the lines before are whole
    if damage == "truncated":
        assert 1 < number < text.count(b"\n") and "ended before the end-of-stream marker" in stderr
    elif damage == "crc":
        assert offset == len(text) and "CRC check failed" in stderr
    assert not (tmp_path / "out").exists() or everything_under(tmp_path / "out") == []  # nothing half-written


def test_a_damaged_gzip_is_one_line_from_the_script_too(tmp_path, sample_spm_model):
    path, _ = damaged_gzip(tmp_path, "truncated")
    out = tmp_path / "out.tfrecord"
    result = run_script(f"--input_file={path}", f"--output_file={out}", f"--spm_model_file={sample_spm_model}")
    one_line_error(result.returncode, result.stderr, f"{path}: line ", "truncated or corrupt")
    assert everything_under(tmp_path) == ["in", "in/corpus.txt.gz"]


def test_output_under_a_file_is_refused_before_any_work(tmp_path, sample_spm_model, capsys):
    (tmp_path / "afile").write_text("not a folder")
    for out in (tmp_path / "afile" / "sub.tfrecord", tmp_path / "afile" / "deeper" / "sub.tfrecord"):
        status, stderr = create(capsys, SAMPLE_TEXT, out, sample_spm_model)
        one_line_error(status, stderr, f"--output_file {out}: {tmp_path / 'afile'} is a file, not a folder")
    assert everything_under(tmp_path) == ["afile"]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_output_in_a_folder_that_cannot_be_written_is_refused(tmp_path, sample_spm_model, capsys):
    status, stderr = create(capsys, SAMPLE_TEXT, "/proc/x.tfrecord", sample_spm_model)
    one_line_error(status, stderr, "--output_file /proc/x.tfrecord: cannot write in /proc", "a folder you can write")
    assert ".tmp-" not in stderr and not glob.glob("/proc/.x.tfrecord*")


def test_output_that_is_a_folder_is_refused_before_any_work(tmp_path, sample_spm_model, capsys):
    folder = tmp_path / "existing"
    folder.mkdir()
    status, stderr = create(capsys, SAMPLE_TEXT, folder, sample_spm_model)
    one_line_error(status, stderr, f"--output_file {folder} is a folder, not a file", "pass a file name")
    (tmp_path / "out.tfrecord.summary.json").mkdir()  # the summary's place
    status, stderr = create(capsys, SAMPLE_TEXT, tmp_path / "out.tfrecord", sample_spm_model)
    one_line_error(status, stderr, f"{tmp_path / 'out.tfrecord.summary.json'} is a folder, not a file")
    assert everything_under(tmp_path) == ["existing", "out.tfrecord.summary.json"]  # no hidden file left


def test_the_write_check_leaves_no_folder_when_the_run_fails(tmp_path, sample_spm_model, capsys):
    out = tmp_path / "new" / "deeper" / "train.tfrecord"
    status, stderr = create(capsys, SAMPLE_TEXT, out, "/no/such.model")
    one_line_error(status, stderr, "/no/such.model: SentencePiece model not found")
    assert everything_under(tmp_path) == []
    status, _ = create(capsys, SAMPLE_TEXT, out, sample_spm_model)
    assert status == 0 and everything_under(out.parent) == ["train.tfrecord", "train.tfrecord.summary.json"]


def test_the_writer_removes_its_temporary_files_when_opening_or_renaming_fails(tmp_path):
    from albert.data.tfrecord import ShardedWriter

    if os.path.isdir("/proc"):
        with pytest.raises(OSError):
            ShardedWriter([str(tmp_path / "a.tfrecord"), "/proc/b.tfrecord"])
        assert everything_under(tmp_path) == []
    (tmp_path / "folder.tfrecord").mkdir()
    with pytest.raises(IsADirectoryError):
        with ShardedWriter([str(tmp_path / "a.tfrecord"), str(tmp_path / "folder.tfrecord")]) as writer:
            writer.write(b"x")
            writer.write(b"y")
    assert everything_under(tmp_path) == ["a.tfrecord", "folder.tfrecord"]  # no hidden partial file


def shard_files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_shards_of_another_count_are_refused_and_same_count_replaced(tmp_path, sample_spm_model, capsys):
    out = tmp_path / "train.tfrecord"
    assert create(capsys, SAMPLE_TEXT, out, sample_spm_model, "--num_output_shards=3")[0] == 0
    before = {name: (tmp_path / name).read_bytes() for name in shard_files(tmp_path)}
    assert len(before) == 4  # 3 shards and the summary
    for flags in (["--num_output_shards=2"], []):
        status, stderr = create(capsys, SAMPLE_TEXT, out, sample_spm_model, *flags)
        one_line_error(
            status,
            stderr,
            f"--output_file {out}: 3 file(s) of an earlier run with another --num_output_shards",
            f"(e.g. {out}-00000-of-00003)",
            "remove them or pass another --output_file",
        )
        assert {name: (tmp_path / name).read_bytes() for name in shard_files(tmp_path)} == before  # untouched
    status, _ = create(capsys, SAMPLE_TEXT, out, sample_spm_model, "--num_output_shards=3", "--dupe_factor=2")
    assert status == 0 and shard_files(tmp_path) == sorted(before)  # replaced, nothing hidden left
    summary = json.loads((tmp_path / "train.tfrecord.summary.json").read_text())
    assert summary["settings"]["dupe_factor"] == 2
    shards = [str(tmp_path / name) for name in shard_files(tmp_path) if "-of-" in name]
    assert len(read_records(shards, 64, 10)["input_ids"]) == summary["instances"]  # the summary describes them


def test_a_single_output_of_an_earlier_run_is_refused_for_shards(tmp_path, sample_spm_model, capsys):
    out = tmp_path / "train.tfrecord"
    assert create(capsys, SAMPLE_TEXT, out, sample_spm_model)[0] == 0
    status, stderr = create(capsys, SAMPLE_TEXT, out, sample_spm_model, "--num_output_shards=2")
    one_line_error(status, stderr, f"--output_file {out}: 1 file(s) of an earlier run", f"(e.g. {out})")
    assert shard_files(tmp_path) == ["train.tfrecord", "train.tfrecord.summary.json"]
    other = tmp_path / "train.tfrecord-extra"  # another output name that only starts alike
    other.write_text("unrelated")
    (tmp_path / "train.tfrecord-extra-00000-of-00002").write_text("unrelated")
    assert create(capsys, SAMPLE_TEXT, out, sample_spm_model, "--dupe_factor=2")[0] == 0


# ----------------------------------------------------------------------------------------------
# Held-out documents
# ----------------------------------------------------------------------------------------------


def split_documents(tmp_path, count):
    """The sample's first `count` documents and the rest, as files of their own."""
    documents = open(SAMPLE_TEXT, encoding="utf-8").read().strip().split("\n\n")
    head, rest = tmp_path / "head.txt", tmp_path / "rest.txt"
    head.write_text("\n\n".join(documents[:count]) + "\n", encoding="utf-8")
    rest.write_text("\n\n".join(documents[count:]) + "\n", encoding="utf-8")
    return str(head), str(rest), len(documents)


def test_held_out_documents_are_the_records_of_those_documents_alone(tmp_path, sample_spm_model, capsys):
    head, rest, total = split_documents(tmp_path, 2)
    out = tmp_path / "out"
    status, err = create(capsys, SAMPLE_TEXT, out / "train.tfrecord", sample_spm_model, "--holdout_documents=2")
    assert status == 0, err
    # the same bytes as the records of a corpus holding only those documents, or only the others
    for name, alone in (("head", head), ("rest", rest)):
        assert create(capsys, alone, tmp_path / f"{name}.tfrecord", sample_spm_model)[0] == 0
    assert (out / "heldout" / "train.tfrecord").read_bytes() == (tmp_path / "head.tfrecord").read_bytes()
    assert (out / "train.tfrecord").read_bytes() == (tmp_path / "rest.tfrecord").read_bytes()
    held_out = json.loads((out / "heldout" / "train.tfrecord.summary.json").read_text())
    training = json.loads((out / "train.tfrecord.summary.json").read_text())
    assert (held_out["documents"], training["documents"]) == (2, total - 2)


def test_holding_out_every_document_is_refused_before_any_work(tmp_path, sample_spm_model, capsys):
    _, _, total = split_documents(tmp_path, 1)
    out = tmp_path / "out"
    status, err = create(capsys, SAMPLE_TEXT, out / "train.tfrecord", sample_spm_model, f"--holdout_documents={total}")
    one_line_error(status, err, f"--holdout_documents {total}", f"the input has {total} documents", "hold out fewer")
    assert not out.exists() or everything_under(out) == []
    status, err = create(capsys, SAMPLE_TEXT, out / "train.tfrecord", sample_spm_model,
                         "--holdout_documents=1", f"--holdout_file={out / 'train.tfrecord'}")  # fmt: skip
    one_line_error(status, err, "--holdout_file", "is an --output_file")
