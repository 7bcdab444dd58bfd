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
