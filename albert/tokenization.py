"""Tokenizers: SentencePiece for ALBERT, WordPiece for BERT.

`SentencePieceTokenizer` applies Google's ALBERT preprocessing (`preprocess_text`: strip and
fold whitespace, NFKD and drop combining marks, optionally lower-case) and Google's rule for
pieces that end in a digit followed by a comma, so that ids match Google's
`create_pretraining_data.py`, `classifier_utils.py` and `squad_utils.py`, which all preprocess
before tokenizing.

    >>> tok = SentencePieceTokenizer("30k-clean.model")
    >>> tok.encode("Hello, my dog is cute")
    [10975, 15, 51, 1952, 25, 10901]

`WordPieceTokenizer` is BERT's basic tokenizer (clean-up, CJK spacing, accent stripping and
lower-casing for uncased vocabularies, punctuation split) followed by greedy longest-match-first
WordPiece with "##" continuations.

Both share one interface: `tokenize` (pieces), `encode` / `encode_batch` (ids),
`convert_tokens_to_ids`, `convert_ids_to_tokens`, `decode` (text), `vocab_size`, the special ids
`pad_id`, `unk_id`, `cls_id`, `sep_id`, `mask_id`, and `word_start_mask()` for whole-word masking.

`train_sentencepiece` trains a new SentencePiece vocabulary on your own text with ALBERT's settings.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from albert.data.documents import DocumentReader, InputError

SPIECE_UNDERLINE = "\u2581"
_DIGIT_COMMA = re.compile(r"\d,")


class TokenizerError(ValueError):
    """A vocabulary file that cannot be used; the message is one line."""


def _fingerprint(path: str, *settings) -> str:
    digest = hashlib.sha256(repr(settings).encode())
    with open(path, "rb") as f:
        digest.update(f.read())
    return digest.hexdigest()


def preprocess_text(text: str, lower: bool = True, remove_space: bool = True, normalize_quotes: bool = False) -> str:
    """Google's ALBERT `preprocess_text`: fold whitespace, strip accents (NFKD, drop combining
    marks), lower-case. `normalize_quotes` also rewrites `` and '' to " first, as Hugging Face's
    `AlbertTokenizer` does (Google does not)."""
    if remove_space:
        text = " ".join(text.strip().split())
    if normalize_quotes:
        text = text.replace("``", '"').replace("''", '"')
    if not text.isascii():  # NFKD leaves ASCII unchanged; skipping it is the fast path
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    if lower:
        text = text.lower()
    return text


class SentencePieceTokenizer:
    """ALBERT's SentencePiece tokenizer.

    Args:
        model_file: a SentencePiece model (e.g. Google's `30k-clean.model`).
        do_lower_case: lower-case in preprocessing (True for every released ALBERT).
        normalize_quotes: rewrite `` and '' to " like Hugging Face (off: Google's behaviour).
    """

    def __init__(self, model_file: str | os.PathLike, do_lower_case: bool = True, normalize_quotes: bool = False):
        import sentencepiece as spm

        model_file = os.fspath(model_file)
        if not os.path.isfile(model_file):
            raise TokenizerError(f"{model_file}: SentencePiece model not found; pass --spm_model_file")
        self.model_file = model_file
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.Load(model_file)
        except (OSError, RuntimeError) as err:
            raise TokenizerError(f"{model_file}: not a SentencePiece model ({err})") from None
        self.do_lower_case = do_lower_case
        self.normalize_quotes = normalize_quotes
        self.vocab_size = self.sp.get_piece_size()
        self.pad_id = self._special("<pad>")
        self.unk_id = self.sp.unk_id()
        self.cls_id = self._special("[CLS]")
        self.sep_id = self._special("[SEP]")
        self.mask_id = self._special("[MASK]")

    def fingerprint(self) -> str:
        """Identifies the ids this tokenizer gives (for feature caches)."""
        return _fingerprint(self.model_file, "sentencepiece", self.do_lower_case, self.normalize_quotes)

    def _special(self, piece: str) -> int:
        index = self.sp.piece_to_id(piece)
        if index == self.sp.unk_id() and piece != self.sp.id_to_piece(index):
            raise TokenizerError(
                f"{self.model_file}: the vocabulary has no {piece} piece; train it with ALBERT's settings"
            )
        return index

    def preprocess(self, text: str) -> str:
        return preprocess_text(text, lower=self.do_lower_case, normalize_quotes=self.normalize_quotes)

    def _fix_digit_commas(self, pieces: list[str]) -> list[str]:
        """Google's `encode_pieces`: a piece such as "▁1990," becomes "▁1990" + "," (re-encoding
        the part before the comma), so numbers tokenize alike with and without a comma."""
        fixed: list[str] = []
        for piece in pieces:
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                parts = self.sp.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""), out_type=str)
                if piece[0] != SPIECE_UNDERLINE and parts and parts[0][0] == SPIECE_UNDERLINE:
                    if len(parts[0]) == 1:
                        parts = parts[1:]
                    else:
                        parts[0] = parts[0][1:]
                parts.append(piece[-1])
                fixed.extend(parts)
            else:
                fixed.append(piece)
        return fixed

    def tokenize(self, text: str) -> list[str]:
        text = self.preprocess(text)
        pieces = self.sp.encode(text, out_type=str)
        return self._fix_digit_commas(pieces) if _DIGIT_COMMA.search(text) else pieces

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str], num_threads: int = 1) -> list[list[int]]:
        """Ids of many texts at once (SentencePiece encodes the batch in C++)."""
        texts = [self.preprocess(t) for t in texts]
        ids = self.sp.encode(texts, out_type=int, num_threads=num_threads)
        for i, text in enumerate(texts):
            if _DIGIT_COMMA.search(text):  # rare: only these need the piece-level rule
                ids[i] = self.sp.piece_to_id(self._fix_digit_commas(self.sp.encode(text, out_type=str)))
        return ids

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        return [self.sp.piece_to_id(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        return [self.sp.id_to_piece(int(i)) for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        specials = {self.pad_id, self.cls_id, self.sep_id, self.mask_id}
        return self.sp.decode([int(i) for i in ids if int(i) not in specials])

    def word_start_mask(self) -> np.ndarray:
        """bool[vocab_size]: pieces that start a word for whole-word masking (Google's
        `_is_start_piece`: a piece starting with "▁" or "<", or a piece that is punctuation or
        holds a character outside a-z and that punctuation, starts a new word)."""
        return np.array([_is_start_piece(self.sp.id_to_piece(i)) for i in range(self.vocab_size)])


# Google's create_pretraining_data.py `_is_start_piece` (its € and £ entries are bytes there and
# never match under Python 3, so they are left out).
_SPECIAL_PUNCTUATION = frozenset('!"#$%&()*+,-./:;?@[\\]^_`{|}~')
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz") | _SPECIAL_PUNCTUATION


def _is_start_piece(piece: str) -> bool:
    if piece.startswith(SPIECE_UNDERLINE) or piece.startswith("<") or piece in _SPECIAL_PUNCTUATION:
        return True
    return any(c.lower() not in _WORD_CHARS for c in piece)


# ----------------------------------------------------------------------------------------------
# WordPiece (BERT)
# ----------------------------------------------------------------------------------------------


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char: str) -> bool:
    cp = ord(char)
    # All non-alphanumeric ASCII counts as punctuation, as in BERT (e.g. "$", "^", "`").
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_tokenize(text: str, do_lower_case: bool = True) -> list[str]:
    """BERT's BasicTokenizer: words and punctuation marks."""
    cleaned = []
    for char in text:
        cp = ord(char)
        if cp == 0 or cp == 0xFFFD or _is_control(char):
            continue
        if _is_whitespace(char):
            cleaned.append(" ")
        elif _is_cjk(cp):
            cleaned.append(f" {char} ")
        else:
            cleaned.append(char)
    tokens = []
    for word in "".join(cleaned).split():
        if do_lower_case:
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        current = []
        for char in word:
            if _is_punctuation(char):
                if current:
                    tokens.append("".join(current))
                    current = []
                tokens.append(char)
            else:
                current.append(char)
        if current:
            tokens.append("".join(current))
    return tokens


class WordPieceTokenizer:
    """BERT's tokenizer from a `vocab.txt` (one piece a line, id = line number).

    Args:
        vocab_file: the vocabulary.
        do_lower_case: True for uncased vocabularies (lower-case and strip accents).
    """

    max_chars_per_word = 200

    def __init__(self, vocab_file: str | os.PathLike, do_lower_case: bool = True):
        vocab_file = os.fspath(vocab_file)
        if not os.path.isfile(vocab_file):
            raise TokenizerError(f"{vocab_file}: vocabulary not found; pass --vocab_file")
        with open(vocab_file, encoding="utf-8") as f:
            self.pieces = [line.rstrip("\r\n") for line in f]
        self.vocab = {piece: i for i, piece in enumerate(self.pieces)}
        self.vocab_file = vocab_file
        self.do_lower_case = do_lower_case
        self.vocab_size = len(self.pieces)
        for name, piece in (
            ("pad_id", "[PAD]"),
            ("unk_id", "[UNK]"),
            ("cls_id", "[CLS]"),
            ("sep_id", "[SEP]"),
            ("mask_id", "[MASK]"),
        ):
            if piece not in self.vocab:
                raise TokenizerError(f"{vocab_file}: the vocabulary has no {piece} entry")
            setattr(self, name, self.vocab[piece])

    def fingerprint(self) -> str:
        """Identifies the ids this tokenizer gives (for feature caches)."""
        return _fingerprint(self.vocab_file, "wordpiece", self.do_lower_case)

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > self.max_chars_per_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        return [p for word in basic_tokenize(text, self.do_lower_case) for p in self._wordpiece(word)]

    def encode(self, text: str) -> list[int]:
        return self.convert_tokens_to_ids(self.tokenize(text))

    def encode_batch(self, texts: Sequence[str], num_threads: int = 1) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        return [self.vocab.get(t, self.unk_id) for t in tokens]

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        return [self.pieces[int(i)] for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        specials = {self.pad_id, self.cls_id, self.sep_id, self.mask_id}
        tokens = [self.pieces[int(i)] for i in ids if int(i) not in specials]
        return " ".join(tokens).replace(" ##", "")

    def word_start_mask(self) -> np.ndarray:
        """bool[vocab_size]: pieces that do not continue a word ("##...")."""
        return np.array([not p.startswith("##") for p in self.pieces])


def create_tokenizer(
    spm_model_file: str | None = None,
    vocab_file: str | None = None,
    do_lower_case: bool = True,
    normalize_quotes: bool = False,
) -> SentencePieceTokenizer | WordPieceTokenizer:
    """The tokenizer the scripts' flags describe: SentencePiece when `spm_model_file` is given
    (ALBERT), else WordPiece from `vocab_file` (BERT)."""
    if spm_model_file:
        return SentencePieceTokenizer(spm_model_file, do_lower_case, normalize_quotes)
    if vocab_file:
        return WordPieceTokenizer(vocab_file, do_lower_case)
    raise TokenizerError("no vocabulary: pass --spm_model_file (ALBERT) or --vocab_file (BERT)")


# How Google trained ALBERT's 30k-clean.model (its README): a unigram model with pad 0, unk 1,
# control symbols [CLS] [SEP] [MASK] (ids 2, 3, 4), no BOS/EOS, user-defined symbols
# ( ) " - . – £ €, character coverage 0.99995 and shuffled input sentences.
ALBERT_SPM_SETTINGS = {
    "model_type": "unigram",
    "pad_id": 0,
    "unk_id": 1,
    "bos_id": -1,
    "eos_id": -1,
    "control_symbols": ["[CLS]", "[SEP]", "[MASK]"],
    "user_defined_symbols": ["(", ")", '"', "-", ".", "–", "£", "€"],
    "character_coverage": 0.99995,
    "shuffle_input_sentence": True,
    "input_sentence_size": 10_000_000,
}


def train_sentencepiece(
    input_files: Sequence[str],
    model_prefix: str,
    vocab_size: int = 30000,
    do_lower_case: bool = True,
    hard_vocab_limit: bool = True,
    num_threads: int = 1,
) -> str:
    """Trains `<model_prefix>.model` / `.vocab` with ALBERT's settings; returns the model path.

    The text (one sentence per line, plain or gzip) goes through `preprocess_text` first, so the
    pieces match what `SentencePieceTokenizer` will see."""
    import sentencepiece as spm

    def sentences() -> Iterator[str]:
        for document in DocumentReader(input_files):
            for line in document:
                yield preprocess_text(line, lower=do_lower_case)

    stream = sentences()
    first = next((s for s in stream if s), None)
    if first is None:
        raise InputError(f"{', '.join(input_files)}: no text found; give one sentence per line")
    os.makedirs(os.path.dirname(os.path.abspath(model_prefix)), exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=itertools.chain([first], stream),
        model_prefix=model_prefix,
        vocab_size=vocab_size,
        hard_vocab_limit=hard_vocab_limit,
        num_threads=num_threads,
        minloglevel=2,
        **ALBERT_SPM_SETTINGS,
    )
    return f"{model_prefix}.model"
