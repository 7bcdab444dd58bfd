import math

import pytest

import demo_albert


def test_demo_loss_falls_on_the_sample_text():
    result = demo_albert.run(["--train_steps", "400", "--log_steps", "200"])
    # An untrained model is near uniform over the sample's vocabulary (ln 342 = 5.8).
    assert result["initial_masked_lm_loss"] > 5.0
    assert result["masked_lm_loss"] < result["initial_masked_lm_loss"] - 2.0
    assert result["sentence_order_accuracy"] > 0.8
    assert all(math.isfinite(v) for v in result.values())


def test_demo_rejects_text_without_documents(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(SystemExit, match="empty.txt: no text found"):
        demo_albert.run(["--input_file", str(empty)])
