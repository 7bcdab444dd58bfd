"""Bad inputs and outputs stop a run with one line naming the file or flag and the fix, before
any work where they can be known first: damaged TFRecords (by file and byte, also when found
mid-training), token ids beyond the model's vocabulary, non-positive rates and batches, output
folders that cannot be written, output files that are folders, an --export_dir that would
replace other files, an init checkpoint of another model size (without TensorFlow's warnings),
and a save that fails for want of space."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import struct
import subprocess

import pytest
from conftest import SCRIPT_ENV
from test_lost_work import pretraining_command

from albert import files, samples
from albert.tasks import classifier, pretraining, squad

STEPS = ("--num_train_steps=4", "--save_checkpoints_steps=2")


def pretrain(records, output_dir, *extra) -> int:
    """run_pretraining.py in this process (a config file replaces --model_size): its exit status."""
    argv = pretraining_command(records, output_dir, *STEPS, *extra)[2:]
    if any(a.startswith("--albert_config_file") for a in extra):
        argv.remove("--model_size=tiny")
    return pretraining.main(argv)


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "no error printed"
    return err[-1]


def record_starts(data: bytes) -> list[int]:
    """The byte offset of every record of a TFRecord file (length, its CRC, data, its CRC)."""
    starts, at = [], 0
    while at < len(data):
        starts.append(at)
        (length,) = struct.unpack("<Q", data[at : at + 8])
        at += 8 + 4 + length + 4
    return starts


@pytest.fixture(scope="module")
def many_records(sample_records, tmp_path_factory):
    """More than the 64 records a run checks before training: the sample's, five times."""
    path = tmp_path_factory.mktemp("many") / "many.tfrecord"
    path.write_bytes(open(sample_records, "rb").read() * 5)
    assert len(record_starts(path.read_bytes())) > 64
    return path


@pytest.mark.parametrize("where", ["first records", "mid-training"])
@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_a_damaged_record_is_named_by_file_and_byte(damage, where, many_records, tmp_path, capsys):
    data = many_records.read_bytes()
    starts = record_starts(data)
    start = starts[3] if where == "first records" else starts[-5]
    if damage == "corrupted":
        damaged = data[: start + 20] + bytes(8) + data[start + 28 :]  # inside the record's data
    else:
        damaged = data[: start + 20]
    path = tmp_path / "damaged.tfrecord"
    path.write_bytes(damaged)
    assert pretrain(path, tmp_path / "out") == 1
    line = error_line(capsys)
    offsets = (start, start + 12)  # TensorFlow names the record's start or its data's
    assert any(line.startswith(f"run_pretraining.py: error: {path}: a {damage} record at byte {o};") for o in offsets)
    if where == "mid-training":
        assert "training stopped, the checkpoints saved are intact" in line
    else:
        assert line.endswith("make the file again") and not (tmp_path / "out" / "train").exists()


def test_record_ids_beyond_the_models_vocabulary_stop_before_training(sample_records, tmp_path, capsys):
    config = tmp_path / "small_vocab.json"
    config.write_text(json.dumps({"vocab_size": 20, "hidden_size": 64, "num_hidden_layers": 1,
                                  "num_attention_heads": 4, "intermediate_size": 128, "embedding_size": 32,
                                  "max_position_embeddings": 64}))  # fmt: skip
    assert pretrain(sample_records, tmp_path / "out", f"--albert_config_file={config}") == 1
    line = error_line(capsys)
    assert f"{sample_records}: record 0 has token id " in line and "but the model's vocab_size is 20" in line
    assert not (tmp_path / "out" / "train").exists()


@pytest.mark.parametrize("flag", ["--learning_rate=0", "--learning_rate=-1", "--train_batch_size=0"])
def test_non_positive_rates_and_batches_are_refused(flag, sample_records, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        pretrain(sample_records, tmp_path, flag)
    assert stopped.value.code == 2
    name, value = flag[2:].split("=")
    assert error_line(capsys) == f"run_pretraining.py: error: argument --{name}: must be above 0, got {value}"


def test_an_output_folder_that_cannot_be_written(sample_records, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    assert pretrain(sample_records, tmp_path / "a_file" / "out") == 1
    line = error_line(capsys)
    assert line == (
        f"run_pretraining.py: error: --output_dir {tmp_path}/a_file/out: {tmp_path}/a_file is a file, not a "
        "folder; remove it or pass another --output_dir"
    )


def test_an_output_file_that_is_a_folder_stops_before_training(sample_records, tmp_path, capsys):
    (tmp_path / "out" / "eval_results.txt").mkdir(parents=True)
    assert pretrain(sample_records, tmp_path / "out", "--do_eval") == 1
    assert error_line(capsys).endswith(
        "eval_results.txt: is a folder, but the run writes a file there; move the folder away"
    )
    assert not list((tmp_path / "out").glob("ckpt-*"))


def classify(spm, output_dir, *extra) -> int:
    """run_classifier.py on the MRPC sample, the tiny model, 4 steps, in this process."""
    return classifier.main([
        "--task_name=MRPC", f"--data_dir={samples.MRPC}", f"--output_dir={output_dir}", "--model_size=tiny",
        f"--spm_model_file={spm}", "--max_seq_length=64", "--train_batch_size=8", "--num_train_steps=4", "--do_train",
        *extra,
    ])  # fmt: skip


def test_an_export_dir_never_replaces_other_files(sample_spm_model, tmp_path, capsys):
    kept = tmp_path / "notes"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    assert classify(sample_spm_model, tmp_path / "out", f"--export_dir={kept}") == 1
    assert "holds files that are not a SavedModel; pass a new or empty folder" in error_line(capsys)
    assert (kept / "notes.txt").read_text() == "mine" and not list((tmp_path / "out").glob("ckpt-*"))
    assert classify(sample_spm_model, tmp_path / "out", f"--export_dir={tmp_path / 'out'}") == 1
    assert f"would replace {tmp_path / 'out'}, which the run keeps" in error_line(capsys)
    (tmp_path / "out" / "MRPC.tsv").mkdir()
    assert classify(sample_spm_model, tmp_path / "out", "--do_predict") == 1
    assert error_line(capsys).endswith("MRPC.tsv: is a folder, but the run writes a file there; move the folder away")
    assert not list((tmp_path / "out").glob("ckpt-*"))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"")
    files.check_replaceable_folder(str(tmp_path / "model"), "--export_dir", [str(tmp_path / "out")])  # replaceable


def test_an_init_checkpoint_of_another_size_is_one_line(sample_records, tmp_path, capfd):
    assert pretrain(sample_records, tmp_path / "tiny") == 0
    config = tmp_path / "wider.json"
    config.write_text(json.dumps({"vocab_size": 30000, "hidden_size": 128, "num_hidden_layers": 1,
                                  "num_attention_heads": 4, "intermediate_size": 256, "embedding_size": 32,
                                  "max_position_embeddings": 64}))  # fmt: skip
    capfd.readouterr()
    extra = (f"--albert_config_file={config}", f"--init_checkpoint={tmp_path / 'tiny'}")
    assert pretrain(sample_records, tmp_path / "wider", *extra) == 1
    err = capfd.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"run_pretraining.py: error: {tmp_path}/tiny/ckpt-4: its weights do not fit this model")
    assert "pass the config the checkpoint was trained with" in line
    assert re.search(
        r"its weights do not fit this model \(\S+ has shape \(\d+, ?\d*\) here, \(\d+, ?\d*\) in the checkpoint\)", line
    )
    assert "WARNING:tensorflow" not in err


def test_a_save_without_space_is_one_line_and_leaves_nothing_partial(sample_records, tmp_path):
    """Writes beyond 1 MB fail as on a full disk (RLIMIT_FSIZE, SIGXFSZ ignored): the first save."""

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    out = tmp_path / "out"
    command = pretraining_command(sample_records, out, *STEPS)
    done = subprocess.run(command, capture_output=True, text=True, env=SCRIPT_ENV, preexec_fn=limit)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"run_pretraining.py: error: step 2: saving the checkpoint in {out} failed (File too large); "
        "the newest checkpoint is none yet; free disk space and run the same command to resume"
    )
    assert not list(out.glob("ckpt-2*")) and not (out / ".run.lock").exists()
    assert subprocess.run(command, capture_output=True, env=SCRIPT_ENV).returncode == 0  # with space: it runs
    assert (out / "ckpt-4.index").exists()


def test_no_writer_writes_over_its_input(sample_spm_model, tmp_path, capsys):
    from albert import convert
    from albert.data import train_sentencepiece

    # SQuAD's predictions.json in --output_dir, which is also --predict_file
    dev = tmp_path / "out" / "predictions.json"
    dev.parent.mkdir()
    dev.write_bytes(open(os.path.join(samples.SQUAD, "dev.json"), "rb").read())
    argv = [f"--predict_file={dev}", f"--output_dir={dev.parent}", "--model_size=tiny", "--max_seq_length=128",
            f"--spm_model_file={sample_spm_model}", "--do_train=false", "--do_predict"]  # fmt: skip
    assert squad.main(argv) == 1
    assert error_line(capsys).endswith(f"{dev}: the run would write over this input; write the output elsewhere")
    # a vocabulary's prefix that names its own corpus
    corpus = tmp_path / "corpus.vocab"
    corpus.write_text("text\n")
    assert train_sentencepiece.main([f"--input_file={corpus}", f"--model_prefix={tmp_path / 'corpus'}"]) == 1
    assert "corpus.vocab: --model_prefix would write over this input" in error_line(capsys)
    assert corpus.read_text() == "text\n"
    # a conversion into the folder it reads
    with pytest.raises(ValueError, match="is the folder of --input .*; convert into another folder"):
        convert.convert("project", "hf", str(tmp_path / "ckpt-0"), str(tmp_path), str(tmp_path / "config.json"))


def test_a_config_path_that_is_a_folder(sample_records, tmp_path, capsys):
    assert pretrain(sample_records, tmp_path / "out", f"--albert_config_file={tmp_path}") == 1
    assert error_line(capsys).endswith(f"{tmp_path}: is a folder; pass the config file in it (e.g. albert_config.json)")
