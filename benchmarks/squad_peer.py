#!/usr/bin/env python3
"""The peer of benchmarks/squad.py: Hugging Face transformers' `BertForQuestionAnswering`
fine-tuned on SQuAD v1.1 with the same recipe, as a plain PyTorch training loop. It imports
neither TensorFlow nor this project, and runs under any interpreter that has torch and
transformers (neither is a dependency of this project):

    /path/to/torch/bin/python benchmarks/squad_peer.py --model DIR --train_file TRAIN.json \\
        --predict_file DEV.json --output_dir OUT [--bf16] [--seed 42]

Windows are cut as transformers' question-answering example cuts them: its fast tokenizer with
`truncation="only_second"`, `max_length` 384 and `stride` 128 (the tokens two windows share),
the question first cut to 64 tokens; a window that does not hold the whole answer is labelled
with [CLS]. Each batch is padded to its longest window. The recipe: batch 32, learning rate 5e-5,
2 epochs with a fresh shuffle each (the last batch of an epoch is partial), 10 % warmup (rounded
up) then linear decay, PyTorch's AdamW (ε 1e-8, weight decay 0.01 except biases and LayerNorm
weights), clipping 1.0; `--bf16` runs the forward passes under `torch.autocast(bfloat16)`.
Attention is transformers' faster CPU kernel for the precision (benchmarks/torch_peer.py), or
`--attention`'s.

Predictions follow the example's post-processing: per question, the 20 best start and end
logits of every window, spans inside the context of at most 30 tokens with the end not before
the start, the best sum of start and end logits over all windows, its text cut from the context
by the tokens' character offsets. `OUT/predictions.json` holds them (question id → text); the
last line printed is one JSON line with the steps, windows and seconds (training, prediction,
whole process). benchmarks/squad.py scores the predictions with the official definitions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch_peer import adamw, add_attention_flag, attention, precision, train_step  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    BertForQuestionAnswering,
    get_linear_schedule_with_warmup,
    set_seed,
)

MAX_SEQ, STRIDE, MAX_QUERY, N_BEST, MAX_ANSWER = 384, 128, 64, 20, 30
PREDICT_BATCH = 64


def read_squad(path: str) -> list[dict]:
    """Every question of a SQuAD file: id, question, context and the first answer (if any)."""
    with open(path, encoding="utf-8") as f:
        articles = json.load(f)["data"]
    examples = []
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answer = qa["answers"][0] if qa["answers"] else None
                examples.append(
                    {"id": qa["id"], "question": qa["question"], "context": paragraph["context"], "answer": answer}
                )
    return examples


def short_question(tokenizer, question: str) -> str:
    """The question, cut after its first MAX_QUERY tokens."""
    question = question.lstrip()
    encoded = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    return question if len(offsets) <= MAX_QUERY else question[: offsets[MAX_QUERY - 1][1]]


def windows(tokenizer, examples: list[dict]) -> dict:
    """The tokenized windows of every example, with `example` (its index) and character offsets
    that are None outside the context."""
    encoded = tokenizer(
        [short_question(tokenizer, e["question"]) for e in examples],
        [e["context"] for e in examples],
        truncation="only_second",
        max_length=MAX_SEQ,
        stride=STRIDE,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    encoded["example"] = encoded.pop("overflow_to_sample_mapping")
    for i in range(len(encoded["input_ids"])):
        in_context = [s == 1 for s in encoded.sequence_ids(i)]
        encoded["offset_mapping"][i] = [o if c else None for o, c in zip(encoded["offset_mapping"][i], in_context)]
    return encoded


def span_labels(encoded: dict, examples: list[dict]) -> tuple[list[int], list[int]]:
    """The answer's first and last token in each window, or [CLS] (0) when the window does not
    hold the whole answer."""
    starts, ends = [], []
    for offsets, index in zip(encoded["offset_mapping"], encoded["example"]):
        answer = examples[index]["answer"]
        first, last = answer["answer_start"], answer["answer_start"] + len(answer["text"])
        tokens = [i for i, o in enumerate(offsets) if o is not None]
        start = end = 0
        if tokens and offsets[tokens[0]][0] <= first and offsets[tokens[-1]][1] >= last:
            start = next(i for i in tokens if offsets[i][1] > first)
            end = next(i for i in reversed(tokens) if offsets[i][0] < last)
        starts.append(start)
        ends.append(end)
    return starts, ends


def batches(tokenizer, encoded: dict, order: list[int], size: int):
    """Batches of the windows in `order`, each padded to its longest."""
    fields = ("input_ids", "token_type_ids", "attention_mask")
    for first in range(0, len(order), size):
        part = order[first : first + size]
        padded = tokenizer.pad([{k: encoded[k][i] for k in fields} for i in part], return_tensors="pt")
        yield part, dict(padded)


def train(args, tokenizer, model) -> int:
    examples = read_squad(args.train_file)
    encoded = windows(tokenizer, examples)
    starts, ends = span_labels(encoded, examples)
    count = len(encoded["input_ids"])
    steps = math.ceil(count / args.batch) * args.epochs
    optimizer = adamw(model, args.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(0.1 * steps), steps)
    generator = torch.Generator().manual_seed(args.seed)
    model.train()
    for _ in range(args.epochs):
        order = torch.randperm(count, generator=generator).tolist()
        for part, inputs in batches(tokenizer, encoded, order, args.batch):
            inputs["start_positions"] = torch.tensor([starts[i] for i in part])
            inputs["end_positions"] = torch.tensor([ends[i] for i in part])
            train_step(model, optimizer, inputs, args.bf16, schedule)
    return steps


def best_answer(context: str, features: list[tuple[np.ndarray, np.ndarray, list]]) -> str:
    """The example's answer: the best-scoring valid span over all of its windows."""
    best_score, best_text = -math.inf, ""
    for start_logits, end_logits, offsets in features:
        for s in np.argsort(start_logits)[::-1][:N_BEST]:
            for e in np.argsort(end_logits)[::-1][:N_BEST]:
                if s >= len(offsets) or e >= len(offsets) or offsets[s] is None or offsets[e] is None:
                    continue
                if e < s or e - s + 1 > MAX_ANSWER:
                    continue
                score = start_logits[s] + end_logits[e]
                if score > best_score:
                    best_score, best_text = score, context[offsets[s][0] : offsets[e][1]]
    return best_text


def predict(args, tokenizer, model) -> int:
    examples = read_squad(args.predict_file)
    encoded = windows(tokenizer, examples)
    count = len(encoded["input_ids"])
    per_example: list[list] = [[] for _ in examples]
    model.eval()
    with torch.no_grad():
        for part, inputs in batches(tokenizer, encoded, list(range(count)), PREDICT_BATCH):
            with precision(args.bf16):
                outputs = model(**inputs)
            mask = inputs["attention_mask"].bool()
            for row, i in enumerate(part):
                length = int(mask[row].sum())
                per_example[encoded["example"][i]].append(
                    (
                        outputs.start_logits[row, :length].float().numpy(),
                        outputs.end_logits[row, :length].float().numpy(),
                        encoded["offset_mapping"][i],
                    )
                )
    answers = {e["id"]: best_answer(e["context"], f) for e, f in zip(examples, per_example)}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "predictions.json"), "w", encoding="utf-8") as f:
        json.dump(answers, f, ensure_ascii=False)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="folder of the BERT checkpoint (weights, config, vocab)")
    parser.add_argument("--train_file", required=True)
    parser.add_argument("--predict_file", required=True)
    parser.add_argument("--output_dir", required=True, help="where predictions.json is written")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--bf16", action="store_true", help="forward passes under torch.autocast(bfloat16)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    add_attention_flag(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = BertForQuestionAnswering.from_pretrained(args.model, attn_implementation=attention(args, args.bf16))
    started = time.perf_counter()
    steps = train(args, tokenizer, model)
    trained = time.perf_counter()
    predicted_windows = predict(args, tokenizer, model)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "benchmark": "squad_finetune_peer",
                "peer": f"transformers {__import__('transformers').__version__} / torch {torch.__version__}",
                "data_type": "bf16" if args.bf16 else "fp32",
                "attention": model.config._attn_implementation,
                "seed": args.seed,
                "train_steps": steps,
                "train_seconds": round(trained - started, 1),
                "predict_windows": predicted_windows,
                "predict_seconds": round(done - trained, 1),
                "seconds": round(done - START, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
