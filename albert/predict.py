"""Predictions on raw text from an exported SavedModel (`--export_dir` of run_classifier.py or
run_squad_v1.py): the model's own tokenizer runs inside the graph, so only the folder is needed.

    python -m albert.predict --saved_model=out/mrpc/saved_model \\
        --text_a="The cat sat on the mat." --text_b="A cat was sitting on the mat."
    python -m albert.predict --saved_model=out/mrpc/saved_model --input_file=pairs.tsv

--input_file holds one example per line: text_a, or text_a<TAB>text_b. Each prediction is a JSON
line: a classifier's `probabilities` and `prediction` (the class index), a regression's
`score`, a span model's best `start` and `end` token of the second text (SQuAD: question as
text_a, context as text_b) with the `input_ids`.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import tensorflow as tf

from albert import quiet, serving


class PredictError(ValueError):
    """A bad input or SavedModel; the message is one line and says what to do."""


def read_examples(path: str) -> list[tuple[str, ...]]:
    """(text_a,) or (text_a, text_b) of each non-blank line of a UTF-8 file."""
    examples = []
    with open(path, encoding="utf-8-sig") as f:  # a byte-order mark is not text
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("\t")
            if not line.strip():
                continue
            if len(fields) > 2:
                raise PredictError(
                    f"{path}: line {number}: {len(fields)} tab-separated fields; give text_a[<TAB>text_b]"
                )
            examples.append(tuple(fields))
    if not examples:
        raise PredictError(f"{path}: no examples; give one text_a[<TAB>text_b] per line")
    if len({len(e) for e in examples}) > 1:
        raise PredictError(f"{path}: some lines have a text_b and some not; predict them in two files")
    return examples


def load(path: str):
    """The SavedModel, with TensorFlow Text's ops loaded for its raw-text signatures."""
    serving._text_module()  # the in-graph tokenizer's ops; a one-line error says how to install them
    try:
        return tf.saved_model.load(path)
    except (OSError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PredictError(f"--saved_model {path}: not a SavedModel ({reason}); pass an --export_dir folder") from None


def predict(model, examples: list[tuple[str, ...]]) -> list[dict]:
    """One dict of results per example."""
    columns = [tf.constant(list(column)) for column in zip(*examples)]
    name = "serving_text_pair" if len(columns) == 2 else "serving_text"
    if name not in model.signatures:
        raise PredictError(
            f"the SavedModel has no {name} signature (it was exported without TensorFlow Text, for token ids "
            "only); pip install tensorflow-text, then export it again"
        )
    arguments = {"text_a": columns[0], "text_b": columns[1]} if len(columns) == 2 else {"text": columns[0]}
    outputs = {key: value.numpy() for key, value in model.signatures[name](**arguments).items()}
    if "start_logits" in outputs and len(columns) == 1:
        raise PredictError("a span model answers a question in a context: give --text_a=QUESTION --text_b=CONTEXT")
    return [_result(outputs, row) for row in range(len(examples))]


def _result(outputs: dict[str, np.ndarray], row: int) -> dict:
    if "logits" in outputs:
        logits = outputs["logits"][row].astype(np.float64)
        if logits.shape[-1] == 1:
            return {"score": float(logits[0])}
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        return {"probabilities": [round(float(p), 6) for p in probabilities], "prediction": int(np.argmax(logits))}
    if "start_logits" in outputs:
        length = int(outputs["input_mask"][row].sum())
        second = outputs["segment_ids"][row][:length] == 1
        second[length - 1] = False  # the closing [SEP]
        start_logits = np.where(second, outputs["start_logits"][row][:length], -np.inf)
        end_logits = np.where(second, outputs["end_logits"][row][:length], -np.inf)
        start = int(np.argmax(start_logits))
        end = start + int(np.argmax(end_logits[start : start + 30]))
        return {"start": start, "end": end, "input_ids": outputs["input_ids"][row][:length].tolist()}
    return {name: value[row].tolist() for name, value in outputs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="albert.predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saved_model", required=True, help="an --export_dir folder")
    parser.add_argument("--text_a", help="the (first) text")
    parser.add_argument("--text_b", help="the second text of a pair")
    parser.add_argument("--input_file", help="one example per line: text_a[<TAB>text_b]")
    args = parser.parse_args(argv)
    if bool(args.text_a) == bool(args.input_file):
        parser.error("give --text_a (and --text_b) or --input_file")
    try:
        examples = (
            read_examples(args.input_file) if args.input_file else [tuple(filter(None, (args.text_a, args.text_b)))]
        )
        with quiet.captured():  # TensorFlow's device start-up lines
            results = predict(load(args.saved_model), examples)
        for result in results:
            print(json.dumps(result))
    except (PredictError, serving.ServingError, OSError) as err:
        print(f"albert.predict: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
