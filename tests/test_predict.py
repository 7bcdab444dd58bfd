"""python -m albert.predict: its inputs and its one-line errors (its predictions are checked
against the SavedModel's token-id signature in tests/test_journey.py)."""

import pytest

from albert import predict


def test_examples_are_one_per_line_with_an_optional_second_text(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("The cat sat.\tA cat sat.\r\n\nIt rains.\tIt is raining.\n", encoding="utf-8")
    assert predict.read_examples(str(pairs)) == [("The cat sat.", "A cat sat."), ("It rains.", "It is raining.")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a\tb\tc\n", "line 1: 3 tab-separated fields; give text_a"),
        ("\n\n", "no examples"),
        ("a\tb\nc\n", "some lines have a text_b and some not"),
    ],
)
def test_bad_examples_are_one_line_naming_the_file(tmp_path, text, message):
    bad = tmp_path / "bad.tsv"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(predict.PredictError, match=message) as err:
        predict.read_examples(str(bad))
    assert str(err.value).startswith(f"{bad}: ") and "\n" not in str(err.value)


def test_a_folder_that_is_not_a_saved_model_is_one_line(tmp_path, capsys):
    pytest.importorskip("tensorflow_text")
    assert predict.main(["--saved_model", str(tmp_path), "--text_a", "hello"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--saved_model {tmp_path}: not a SavedModel" in err


def test_a_byte_order_mark_is_not_text(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\ufeffThe cat sat.\tA cat sat.\n", encoding="utf-8")
    assert predict.read_examples(str(pairs)) == [("The cat sat.", "A cat sat.")]


def saved_span_model(path, text_signature=True):
    """A SavedModel with the span model's outputs for one fixed pair of 6 tokens,
    [CLS] q [SEP] c1 c2 [SEP] (padded to 8): its largest start and end logits are on the last [SEP]."""
    import tensorflow as tf

    outputs = {
        "input_ids": tf.constant([[2, 10, 3, 11, 12, 3, 0, 0]]),
        "input_mask": tf.constant([[1, 1, 1, 1, 1, 1, 0, 0]]),
        "segment_ids": tf.constant([[0, 0, 0, 1, 1, 1, 0, 0]]),
        "start_logits": tf.constant([[0.0, 0.0, 0.0, 2.0, 1.0, 9.0, 0.0, 0.0]]),
        "end_logits": tf.constant([[0.0, 0.0, 0.0, 1.0, 3.0, 9.0, 0.0, 0.0]]),
    }
    module = tf.Module()
    text = tf.TensorSpec([None], tf.string)
    module.ids = tf.function(lambda input_ids: outputs, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    signatures = {"serving_default": module.ids}
    if text_signature:
        signatures["serving_text_pair"] = tf.function(lambda text_a, text_b: outputs, input_signature=[text, text])
        signatures["serving_text"] = tf.function(lambda text: outputs, input_signature=[text])
    tf.saved_model.save(module, str(path), signatures=signatures)
    return tf.saved_model.load(str(path))


def test_a_span_is_found_in_the_context_never_on_its_closing_separator(tmp_path):
    model = saved_span_model(tmp_path / "span")
    (result,) = predict.predict(model, [("q", "c1 c2")])
    assert (result["start"], result["end"]) == (3, 4) and result["input_ids"] == [2, 10, 3, 11, 12, 3]
    with pytest.raises(predict.PredictError, match="give --text_a=QUESTION --text_b=CONTEXT"):
        predict.predict(model, [("only a question",)])


def test_an_export_without_the_text_signatures_says_how_to_make_one(tmp_path):
    model = saved_span_model(tmp_path / "ids", text_signature=False)
    with pytest.raises(predict.PredictError, match="no serving_text_pair signature .* pip install tensorflow-text"):
        predict.predict(model, [("q", "c")])
