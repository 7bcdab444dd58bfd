"""SavedModel export of fine-tuned models, with serving signatures that take token ids and, when a
tokenizer is given, raw text.

The text signatures run the tokenizer inside the graph with TensorFlow Text ops (an optional
dependency: `pip install tensorflow-text`, and `import tensorflow_text` before
`tf.saved_model.load` so its ops are registered). They reproduce `albert.tokenization`:

- ALBERT (SentencePiece): Google's `preprocess_text` (whitespace folding, NFKD with the combining
  marks Python's `unicodedata.combining` reports dropped, lower-casing), the SentencePiece model
  itself, and Google's rule that splits a piece such as "▁1990," into "▁1990" + ",".
- BERT (WordPiece): TensorFlow Text's `BertTokenizer`, which lower-cases by Unicode case folding
  where Python uses `str.lower` (they differ on a few letters such as "ß" and "İ") and counts the
  200-character limit of a word in bytes.

Inputs are packed as `albert.data.features.pack_inputs` does and padded to the longest in the batch.
"""

from __future__ import annotations

import functools
import os
import sys
import unicodedata

import keras
import tensorflow as tf

from albert import files, modeling
from albert.tokenization import SPIECE_UNDERLINE, SentencePieceTokenizer, WordPieceTokenizer

# Python's str.split() separators (RE2's \s is ASCII only).
_WHITESPACE = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]+"


class ServingError(ValueError):
    """An export that cannot be made; the message is one line."""


@functools.cache
def _combining_marks() -> str:
    """An RE2 class of the code points with a non-zero canonical combining class."""
    ranges, start, previous = [], None, None
    for code in range(sys.maxunicode + 1):
        if unicodedata.combining(chr(code)):
            if start is None or code != previous + 1:
                if start is not None:
                    ranges.append((start, previous))
                start = code
            previous = code
    ranges.append((start, previous))
    return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" if a != b else f"\\x{{{a:x}}}" for a, b in ranges) + "]"


def _text_module():
    try:
        import tensorflow_text
    except ImportError:
        raise ServingError(
            "raw-text signatures need TensorFlow Text: pip install tensorflow-text (or export without a tokenizer)"
        ) from None
    return tensorflow_text


class TextEncoder(tf.Module):
    """In-graph tokenizer and packer: strings [batch] → int32 `input_ids`, `input_mask`,
    `segment_ids` [batch, length ≤ max_seq_length]."""

    def __init__(self, tokenizer: SentencePieceTokenizer | WordPieceTokenizer, max_seq_length: int):
        super().__init__()
        text = _text_module()
        self.max_seq_length = max_seq_length
        self.cls_id, self.sep_id, self.pad_id = tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id
        if isinstance(tokenizer, SentencePieceTokenizer):
            with open(tokenizer.model_file, "rb") as f:
                self.sp = text.SentencepieceTokenizer(model=f.read(), out_type=tf.string)
            self.do_lower_case = tokenizer.do_lower_case
            self.normalize_quotes = tokenizer.normalize_quotes
            self.combining = _combining_marks()
            self.wordpiece = None
        else:
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(tokenizer.pieces), tf.range(tokenizer.vocab_size, dtype=tf.int64)
                ),
                default_value=tokenizer.unk_id,
            )
            self.wordpiece = text.BertTokenizer(
                table,
                lower_case=tokenizer.do_lower_case,
                max_bytes_per_word=tokenizer.max_chars_per_word,
                token_out_type=tf.int64,
            )

    # -- SentencePiece ---------------------------------------------------------------------------

    def _preprocess(self, text: tf.Tensor) -> tf.Tensor:
        text = tf.strings.strip(tf.strings.regex_replace(text, _WHITESPACE, " "))
        if self.normalize_quotes:
            text = tf.strings.regex_replace(text, "``|''", '"')
        text = _text_module().normalize_utf8(text, "NFKD")
        text = tf.strings.regex_replace(text, self.combining, "")
        if self.do_lower_case:
            text = tf.strings.lower(text, encoding="utf-8")
        return text

    def _split_digit_commas(self, pieces: tf.RaggedTensor) -> tf.RaggedTensor:
        """Google's `encode_pieces` rule (`SentencePieceTokenizer._fix_digit_commas`) on a batch."""
        flat = pieces.flat_values
        hit = tf.strings.regex_full_match(flat, r".*\p{Nd},")
        chosen = tf.boolean_mask(flat, hit)
        body = tf.strings.regex_replace(tf.strings.regex_replace(chosen, ",$", ""), SPIECE_UNDERLINE, "")
        parts = self.sp.tokenize(body)
        # A piece that did not start a word keeps its first part joined to what came before.
        first = tf.gather(parts.flat_values, parts.row_starts())
        strip = tf.logical_and(
            tf.logical_not(tf.strings.regex_full_match(chosen, SPIECE_UNDERLINE + ".*")),
            tf.strings.regex_full_match(first, SPIECE_UNDERLINE + ".*"),
        )
        first = tf.where(strip, tf.strings.regex_replace(first, "^" + SPIECE_UNDERLINE, ""), first)
        values = tf.tensor_scatter_nd_update(parts.flat_values, parts.row_starts()[:, None], first)
        keep = tf.tensor_scatter_nd_update(
            tf.ones_like(values, tf.bool), parts.row_starts()[:, None], tf.strings.length(first) > 0
        )
        parts = tf.ragged.boolean_mask(parts.with_flat_values(values), parts.with_flat_values(keep))
        commas = tf.RaggedTensor.from_tensor(tf.fill([tf.size(chosen), 1], ","))
        fixed = tf.concat([parts, commas], axis=1)
        # Each piece becomes its own row or its fixed parts, then rows regroup by text.
        singles = tf.RaggedTensor.from_tensor(flat[:, None])
        index = tf.where(hit, tf.size(flat) + tf.cumsum(tf.cast(hit, tf.int32)) - 1, tf.range(tf.size(flat)))
        replaced = tf.gather(tf.concat([singles, fixed], axis=0), index)
        return pieces.with_flat_values(replaced).merge_dims(1, 2)

    # -- both ------------------------------------------------------------------------------------

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Token ids (int32, ragged [batch, (tokens)]) of a batch of strings."""
        if self.wordpiece is not None:
            return tf.cast(self.wordpiece.tokenize(text).merge_dims(-2, -1), tf.int32)
        pieces = self._split_digit_commas(self.sp.tokenize(self._preprocess(text)))
        return tf.cast(self.sp.string_to_id(pieces), tf.int32)

    def __call__(self, text_a: tf.Tensor, text_b: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        a = self.tokenize(text_a)
        batch = tf.shape(text_a)[:1]
        cls = tf.RaggedTensor.from_tensor(tf.fill(tf.concat([batch, [1]], 0), self.cls_id))
        sep = tf.RaggedTensor.from_tensor(tf.fill(tf.concat([batch, [1]], 0), self.sep_id))
        if text_b is None:
            a = a[:, : self.max_seq_length - 2]
            ids = tf.concat([cls, a, sep], axis=1)
            segments = tf.zeros_like(ids)
        else:
            b = self.tokenize(text_b)
            # albert.data.features.truncated_lengths, per row.
            budget = self.max_seq_length - 3
            length_a, length_b = tf.cast(a.row_lengths(), tf.int32), tf.cast(b.row_lengths(), tf.int32)
            kept_a = tf.minimum(length_a, budget - tf.minimum(length_b, budget // 2))
            kept_b = tf.minimum(length_b, budget - kept_a)
            a = tf.ragged.boolean_mask(a, tf.ragged.range(length_a) < kept_a[:, None])
            b = tf.ragged.boolean_mask(b, tf.ragged.range(length_b) < kept_b[:, None])
            first, second = tf.concat([cls, a, sep], axis=1), tf.concat([b, sep], axis=1)
            ids = tf.concat([first, second], axis=1)
            segments = tf.concat([tf.zeros_like(first), tf.ones_like(second)], axis=1)
        return {
            "input_ids": ids.to_tensor(self.pad_id),
            "input_mask": tf.ones_like(ids).to_tensor(0),
            "segment_ids": segments.to_tensor(0),
        }


class _Serving(tf.Module):
    def __init__(self, model: keras.Model, encoder: TextEncoder | None):
        super().__init__()
        self.model = model
        ids = tf.TensorSpec([None, None], tf.int32)
        self.serve = tf.function(
            lambda input_ids, input_mask, segment_ids: model(
                {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}, training=False
            ),
            input_signature=[ids, ids, ids],
        )
        if encoder is None:
            return
        self.encoder = encoder
        text = tf.TensorSpec([None], tf.string)
        self.serve_text = tf.function(lambda text: self._run(encoder(text)), input_signature=[text])
        self.serve_text_pair = tf.function(
            lambda text_a, text_b: self._run(encoder(text_a, text_b)), input_signature=[text, text]
        )

    def _run(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        outputs = dict(self.model({k: inputs[k] for k in modeling.INPUT_NAMES}, training=False))
        outputs.update(inputs)
        return outputs


def export_saved_model(
    model: keras.Model,
    directory: str | os.PathLike,
    tokenizer: SentencePieceTokenizer | WordPieceTokenizer | None = None,
    max_seq_length: int = 512,
) -> str:
    """Exports a classifier, span or encoder model as a SavedModel loadable with plain
    `tf.saved_model.load`.

    Signatures: `serving_default` takes int32 `input_ids`, `input_mask`, `segment_ids`
    [batch, length] and returns the model's outputs (e.g. `logits`, or `start_logits` and
    `end_logits`). With a `tokenizer`, also `serving_text` (`text` [batch]) and `serving_text_pair`
    (`text_a`, `text_b` [batch]), which return the model's outputs and the packed inputs
    (so span logits can be mapped back to tokens), truncated to `max_seq_length`.
    Written to a temporary directory and renamed when complete; `directory` must be new, empty
    or an earlier SavedModel, which is replaced."""
    directory = os.fspath(directory)
    encoder = TextEncoder(tokenizer, max_seq_length) if tokenizer is not None else None
    serving = _Serving(model, encoder)
    signatures = {"serving_default": serving.serve}
    if encoder is not None:
        signatures.update(serving_text=serving.serve_text, serving_text_pair=serving.serve_text_pair)
    files.check_replaceable_folder(directory, "the export folder", [])
    tmp = files.temporary_path(directory)
    tf.saved_model.save(serving, tmp, signatures=signatures)
    files.replace_folder(tmp, directory)
    return directory
