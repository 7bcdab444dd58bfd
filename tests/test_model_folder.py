"""A run folder's config and vocabulary: written for the checkpoints the run makes, and kept
when the folder already holds checkpoints they describe."""

import json

from albert import model_folder
from albert.configs import get_config
from albert.settings import Values


def values(tmp_path, config_file, spm):
    return Values({"output_dir": str(tmp_path / "run"), "albert_config_file": config_file, "spm_model_file": str(spm)})


def test_a_new_folder_takes_the_runs_config_and_vocabulary(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "albert_config.json").write_text('{"stale": true}')
    spm = tmp_path / "my.model"
    spm.write_bytes(b"vocabulary")
    config = get_config("tiny")
    lines = []
    model_folder.save(values(tmp_path, "tiny", spm), config, lines.append)
    assert json.loads((tmp_path / "run" / "albert_config.json").read_text())["hidden_size"] == config.hidden_size
    assert (tmp_path / "run" / "30k-clean.model").read_bytes() == b"vocabulary" and lines == []
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["30k-clean.model", "albert_config.json"]


def test_a_folder_with_checkpoints_keeps_the_files_that_describe_them(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "ckpt-4.index").write_bytes(b"")
    (run / "albert_config.json").write_text('{"trained": "with this"}')
    (run / "30k-clean.model").write_bytes(b"the vocabulary it was trained with")
    spm = tmp_path / "other.model"
    spm.write_bytes(b"another vocabulary")
    lines = []
    model_folder.save(values(tmp_path, "tiny", spm), get_config("tiny"), lines.append)
    assert (run / "albert_config.json").read_text() == '{"trained": "with this"}'
    assert (run / "30k-clean.model").read_bytes() == b"the vocabulary it was trained with"
    assert lines == [
        f"kept {run}/albert_config.json: it describes the checkpoints already in {run} (this run's differs)",
        f"kept {run}/30k-clean.model: it describes the checkpoints already in {run} (this run's differs)",
    ]
    assert sorted(p.name for p in run.iterdir()) == ["30k-clean.model", "albert_config.json", "ckpt-4.index"]
