"""Raw text → ALBERT/BERT pretraining TFRecords (masked LM + sentence order).

Input: one sentence per line, a blank line between documents (plain or gzip, UTF-8). Output:
Google's features (input_ids, input_mask, segment_ids, token_boundary, masked_lm_positions,
masked_lm_ids, masked_lm_weights, next_sentence_labels), readable by run_pretraining.py and by
Google's own. Flags and defaults are those of Google's create_pretraining_data.py, plus
--num_workers, --num_output_shards and --errors. A summary (instances, tokens, masked fraction,
sentence-order balance) is written to <output_file>.summary.json.

    albert-create-data \\
        --input_file='wiki/*.txt' --output_file=out/train.tfrecord --num_output_shards=8 \\
        --spm_model_file=30k-clean.model --max_seq_length=128 --max_predictions_per_seq=20 \\
        --dupe_factor=10 --num_workers=8

The output depends on --random_seed and the other flags only, not on --num_workers. The same
command runs as `python data_preprocessing/create_training_data.py` or
`python -m albert.data.create_training_data`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from absl import app, flags

from albert.cli import run_absl
from albert.data.documents import InputError, expand_input_patterns
from albert.data.instances import MaskingConfig
from albert.data.pretraining_records import (
    TokenizerSpec,
    create_pretraining_records,
    output_paths,
    summary_path,
    write_summary,
)
from albert.progress import ProgressBar
from albert.tokenization import TokenizerError

FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "Input text files: comma-separated glob patterns.")
flags.DEFINE_string("output_file", None, "Output TFRecord file(s), comma-separated (records go round-robin).")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model (ALBERT).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt (BERT), used when --spm_model_file is not given.")
flags.DEFINE_string("input_file_mode", "r", "Accepted for compatibility with Google's script; ignored.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input text.")
flags.DEFINE_bool("normalize_quotes", False, "Rewrite `` and '' to \" (Hugging Face's ALBERT tokenizer does).")
flags.DEFINE_bool("do_whole_word_mask", True, "Mask whole words, not single pieces.")
flags.DEFINE_bool("do_permutation", False, "Not supported (Google's permutation variant).")
flags.DEFINE_bool("favor_shorter_ngram", True, "p(n) proportional to 1/n (else to n).")
flags.DEFINE_bool("random_next_sentence", False, "BERT's next-sentence prediction instead of sentence order.")
flags.DEFINE_integer("max_seq_length", 512, "Maximum sequence length.")
flags.DEFINE_integer("ngram", 3, "Maximum n-gram length (words) to mask.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum masked positions per sequence.")
flags.DEFINE_integer("random_seed", 12345, "Seed: the same seed and flags give the same bytes.")
flags.DEFINE_integer("dupe_factor", 40, "Passes over the input, each with different masks.")
flags.DEFINE_float("masked_lm_prob", 0.15, "Share of tokens to mask.")
flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter target length.")
flags.DEFINE_integer("num_workers", 1, "Worker processes.")
flags.DEFINE_integer("num_output_shards", 1, "Split a single --output_file into this many shards.")
flags.DEFINE_enum("errors", "strict", ["strict", "replace"], "Invalid UTF-8: stop with an error, or replace.")


def create_training_data(argv: list[str]) -> int:
    """The command, once absl has parsed the flags."""
    del argv
    if FLAGS.do_permutation:
        raise app.UsageError("--do_permutation is not supported")
    masking = MaskingConfig(
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        masked_lm_prob=FLAGS.masked_lm_prob,
        short_seq_prob=FLAGS.short_seq_prob,
        ngram=FLAGS.ngram,
        favor_shorter_ngram=FLAGS.favor_shorter_ngram,
        do_whole_word_mask=FLAGS.do_whole_word_mask,
        random_next_sentence=FLAGS.random_next_sentence,
    )
    tokenizer = TokenizerSpec(FLAGS.spm_model_file, FLAGS.vocab_file, FLAGS.do_lower_case, FLAGS.normalize_quotes)
    inputs = expand_input_patterns(FLAGS.input_file)
    outputs = output_paths(FLAGS.output_file, FLAGS.num_output_shards)

    progress = ProgressBar(1, "documents")
    start = time.perf_counter()

    def report(documents: int, done: int, total: int) -> None:
        progress.total = max(total, 1)
        progress.update(done, documents)

    stats = create_pretraining_records(
        inputs,
        outputs,
        tokenizer,
        masking,
        seed=FLAGS.random_seed,
        dupe_factor=FLAGS.dupe_factor,
        num_workers=FLAGS.num_workers,
        errors=FLAGS.errors,
        on_progress=report,
    )
    progress.close()
    settings = {f.name: f.value for f in FLAGS.get_key_flags_for_module(__name__)}
    summary = write_summary(summary_path(FLAGS.output_file), stats, time.perf_counter() - start, settings)
    print(
        f"wrote {summary['instances']:,} instances ({summary['real_tokens']:,} tokens, "
        f"masked {summary['masked_fraction']:.3f}, sentence-order label 1 "
        f"{summary['sentence_order_label_1_fraction']:.3f}) to {len(outputs)} file(s) in "
        f"{summary['seconds']:.1f} s ({summary['tokens_per_second']:,} tokens/s); summary: "
        f"{summary_path(FLAGS.output_file)}"
    )
    return 0


def _run(argv: list[str]) -> int:
    """create_training_data() with bad input reported as one line on stderr and exit status 1."""
    try:
        return create_training_data(argv)
    except (InputError, TokenizerError, ValueError) as err:
        print(f"create_training_data.py: error: {err}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """The `albert-create-data` command: parses argv (sys.argv when None) and returns the exit status."""
    return run_absl(_run, argv, __name__, __doc__, required=["input_file", "output_file"])


if __name__ == "__main__":
    sys.exit(main())
