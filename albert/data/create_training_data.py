"""Raw text → ALBERT/BERT pretraining TFRecords (masked LM + sentence order).

Input: one sentence per line, a blank line between documents (plain or gzip, UTF-8). Output:
Google's features (input_ids, input_mask, segment_ids, token_boundary, masked_lm_positions,
masked_lm_ids, masked_lm_weights, next_sentence_labels), readable by run_pretraining.py and by
Google's own. Flags and defaults are those of Google's create_pretraining_data.py, plus
--num_workers, --num_output_shards and --errors. A summary (instances, tokens, masked fraction,
sentence-order balance) is written to <output_file>.summary.json. --holdout_documents N keeps the
first N documents apart, as evaluation records of their own (--holdout_file).

    albert-create-data \\
        --input_file='wiki/*.txt' --output_file=out/train.tfrecord --num_output_shards=8 \\
        --spm_model_file=30k-clean.model --max_seq_length=128 --max_predictions_per_seq=20 \\
        --dupe_factor=10 --num_workers=8

The outputs are checked before any work: a folder where a file goes, a folder that cannot be
written, or files of an earlier run of the same --output_file with another --num_output_shards
(which `<output_file>-*` would match with this run's) are one-line errors.

The output depends on --random_seed and the other flags only, not on --num_workers. The same
command runs as `python data_preprocessing/create_training_data.py` or
`python -m albert.data.create_training_data`.
"""

from __future__ import annotations

import glob
import itertools
import os
import re
import sys
import time
from collections.abc import Sequence

from albert import files
from albert.data.documents import DocumentReader, InputError, expand_input_patterns, refuse_overwriting
from albert.data.instances import MaskingConfig
from albert.data.pretraining_records import (
    TokenizerSpec,
    create_pretraining_records,
    output_paths,
    summary_path,
    write_summary,
)
from albert.progress import ProgressBar
from albert.settings import Setting, Values, group, parse
from albert.tokenization import TokenizerError

SETTINGS = group(
    "Pretraining data (Google's create_pretraining_data.py flags and defaults)",
    Setting("input_file", str, None, "Input text files: comma-separated glob patterns.", required=True),
    Setting(
        "output_file", str, None, "Output TFRecord file(s), comma-separated (records go round-robin).", required=True
    ),
    Setting("spm_model_file", str, None, "SentencePiece model (ALBERT)."),
    Setting("vocab_file", str, None, "WordPiece vocab.txt (BERT), used when --spm_model_file is not given."),
    Setting("input_file_mode", str, "r", "Accepted for compatibility with Google's script; ignored."),
    Setting("do_lower_case", bool, True, "Lower-case the input text."),
    Setting("normalize_quotes", bool, False, "Rewrite `` and '' to \" (Hugging Face's ALBERT tokenizer does)."),
    Setting("do_whole_word_mask", bool, True, "Mask whole words, not single pieces."),
    Setting("do_permutation", bool, False, "Not supported (Google's permutation variant)."),
    Setting("favor_shorter_ngram", bool, True, "p(n) proportional to 1/n (else to n)."),
    Setting("random_next_sentence", bool, False, "BERT's next-sentence prediction instead of sentence order."),
    Setting("max_seq_length", int, 512, "Maximum sequence length."),
    Setting("ngram", int, 3, "Maximum n-gram length (words) to mask."),
    Setting("max_predictions_per_seq", int, 20, "Maximum masked positions per sequence."),
    Setting("random_seed", int, 12345, "Seed: the same seed and settings give the same bytes."),
    Setting("dupe_factor", int, 40, "Passes over the input, each with different masks."),
    Setting("masked_lm_prob", float, 0.15, "Share of tokens to mask."),
    Setting("short_seq_prob", float, 0.1, "Probability of a shorter target length."),
    Setting("num_workers", int, 1, "Worker processes."),
    Setting("num_output_shards", int, 1, "Split a single --output_file into this many shards."),
    Setting("errors", str, "strict", "Invalid UTF-8: stop with an error, or replace.", choices=("strict", "replace")),
    Setting(
        "holdout_documents",
        int,
        0,
        "Hold out the first N documents for evaluation: their records go to --holdout_file (run_pretraining.py "
        "--eval_file), never into the training records.",
    ),
    Setting("holdout_file", str, None, "The held-out records (default: heldout/<name> beside --output_file)."),
)


def check_outputs(v: Values, outputs: Sequence[str]) -> None:
    """Before any work, for each --output_file name: no earlier run's files of another shard
    count, no folder where a file goes, and a folder that can be written."""
    flag, sharded = v.flag("output_file"), v.num_output_shards > 1
    for index, given in enumerate(p.strip() for p in v.output_file.split(",") if p.strip()):
        mine = list(outputs) if sharded else [given]
        refuse_other_shard_counts(given, mine, flag, v.flag("num_output_shards"))
        check_output_files(given, [*mine, summary_path(given)] if index == 0 else mine, flag)


_SHARD_SUFFIX = re.compile(r"-\d{5,}-of-\d{5,}")


def refuse_other_shard_counts(given: str, outputs: Sequence[str], flag: str, shards_flag: str) -> None:
    """Files of the output name `given` that are not among `outputs` (`given` itself or
    `given-0000K-of-0000M`: an earlier run's with another shard count) are an error, since
    `given-*` would match them with this run's and the summary would describe only this run."""
    name = os.path.basename(given)
    found = [given] if os.path.isfile(given) else []
    for path in glob.glob(f"{glob.escape(given)}-*-of-*"):
        if _SHARD_SUFFIX.fullmatch(os.path.basename(path)[len(name) :]):
            found.append(path)
    ours = {os.path.basename(path) for path in outputs}
    earlier = sorted(path for path in found if os.path.basename(path) not in ours)
    if earlier:
        raise files.OutputError(
            f"{flag} {given}: {len(earlier)} file(s) of an earlier run with another {shards_flag} are there "
            f"(e.g. {earlier[0]}) that this run's outputs would be mixed with; remove them or pass another {flag}"
        )


def check_output_files(given: str, paths: Sequence[str], flag: str) -> None:
    """None of `paths` (the files that `flag` `given` stands for) is a folder, and their folder
    is one, or can be made, where files can be written."""
    for path in paths:
        if os.path.isdir(path) and path == given:
            example = os.path.join(path, "train.tfrecord")
            raise files.OutputError(f"{flag} {given} is a folder, not a file; pass a file name (e.g. {example})")
        if os.path.isdir(path):
            raise files.OutputError(
                f"{flag} {given}: {path} is a folder, not a file; move it away or pass another {flag}"
            )
    for folder in sorted({os.path.dirname(os.path.abspath(path)) for path in paths}):
        files.check_writable(folder, given, flag)


def create_training_data(v: Values) -> None:
    """Writes the records and their summary as the settings say."""
    if v.do_permutation:
        raise ValueError("--do_permutation is not supported; leave it out")
    masking = MaskingConfig(
        max_seq_length=v.max_seq_length,
        max_predictions_per_seq=v.max_predictions_per_seq,
        masked_lm_prob=v.masked_lm_prob,
        short_seq_prob=v.short_seq_prob,
        ngram=v.ngram,
        favor_shorter_ngram=v.favor_shorter_ngram,
        do_whole_word_mask=v.do_whole_word_mask,
        random_next_sentence=v.random_next_sentence,
    )
    tokenizer = TokenizerSpec(v.spm_model_file, v.vocab_file, v.do_lower_case, v.normalize_quotes)
    inputs = expand_input_patterns(v.input_file)
    outputs = output_paths(v.output_file, v.num_output_shards)
    held_out = holdout_file(v)
    vocabulary = [path for path in (v.spm_model_file, v.vocab_file) if path]
    written = [*outputs, summary_path(v.output_file), *([held_out, summary_path(held_out)] if held_out else [])]
    refuse_overwriting([*inputs, *vocabulary], written)
    check_outputs(v, outputs)
    if held_out:
        check_output_files(held_out, [held_out, summary_path(held_out)], v.flag("holdout_file"))
        if os.path.realpath(held_out) in {os.path.realpath(p) for p in outputs}:
            raise files.OutputError(f"--holdout_file {held_out} is an --output_file; pass another name")
    options = dict(seed=v.random_seed, dupe_factor=v.dupe_factor, num_workers=v.num_workers, errors=v.errors)
    if held_out:
        check_documents_left(inputs, v)
        first = slice(0, v.holdout_documents)
        write_records(v, inputs, [held_out], held_out, tokenizer, masking, first, options)
    rest = slice(v.holdout_documents or None, None)
    write_records(v, inputs, outputs, v.output_file, tokenizer, masking, rest, options)


def check_documents_left(inputs: Sequence[str], v: Values) -> None:
    """Documents remain for training once --holdout_documents are held out (found before any work,
    reading no more than those documents)."""
    found = sum(1 for _ in itertools.islice(DocumentReader(inputs, errors=v.errors), v.holdout_documents + 1))
    if found <= v.holdout_documents:
        raise InputError(
            f"--holdout_documents {v.holdout_documents}: the input has {found} documents, none left to train on; "
            "hold out fewer"
        )


def holdout_file(v: Values) -> str | None:
    """Where the held-out records go (None: nothing is held out)."""
    if v.holdout_documents < 0:
        raise ValueError(f"--holdout_documents must be at least 0, got {v.holdout_documents}")
    if not v.holdout_documents:
        if v.holdout_file:
            raise ValueError("--holdout_file needs --holdout_documents N (the documents to hold out)")
        return None
    first = v.output_file.split(",")[0].strip()
    return v.holdout_file or os.path.join(os.path.dirname(first), "heldout", os.path.basename(first))


def write_records(v: Values, inputs, outputs, named: str, tokenizer, masking, documents: slice, options: dict) -> dict:
    """The records of the `documents` of the input, and their summary (<named>.summary.json; returned)."""
    progress = ProgressBar(1, "documents")
    start = time.perf_counter()

    def report(documents: int, done: int, total: int) -> None:
        progress.total = max(total, 1)
        progress.update(done, documents)

    stats = create_pretraining_records(
        inputs, outputs, tokenizer, masking, on_progress=report, documents=documents, **options
    )
    progress.close()
    summary = write_summary(summary_path(named), stats, time.perf_counter() - start, v.as_dict())
    print(
        f"wrote {summary['instances']:,} instances ({summary['real_tokens']:,} tokens, "
        f"masked {summary['masked_fraction']:.3f}, sentence-order label 1 "
        f"{summary['sentence_order_label_1_fraction']:.3f}) to {len(outputs)} file(s) in "
        f"{summary['seconds']:.1f} s ({summary['tokens_per_second']:,} tokens/s); summary: "
        f"{summary_path(named)}"
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """The `albert-create-data` command (argv without the program; sys.argv's when None):
    bad input is one line on stderr and exit status 1."""
    values = parse(SETTINGS, sys.argv[1:] if argv is None else argv, "create_training_data.py", __doc__)
    try:
        create_training_data(values)
    except (InputError, TokenizerError, ValueError) as err:
        print(f"create_training_data.py: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
