import math

import pytest

import demo_albert
from albert.data.documents import InputError


def test_demo_loss_falls_on_the_sample_text(tmp_path):
    result = demo_albert.run(["--train_steps", "100", "--log_steps", "50", "--output_dir", str(tmp_path)])
    # An untrained model is near uniform over the sample's vocabulary (ln 300 = 5.7).
    assert result["initial_masked_lm_loss"] > 5.0
    assert result["masked_lm_loss"] < result["initial_masked_lm_loss"] - 1.5
    assert result["sentence_order_accuracy"] > 0.7
    assert all(math.isfinite(v) for v in result.values())


def test_demo_rejects_text_without_documents(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="empty.txt: no text found"):
        demo_albert.run(["--input_file", str(empty), "--output_dir", str(tmp_path / "out")])
