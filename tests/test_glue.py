import os

import numpy as np
import pytest
import tensorflow as tf

from albert import samples
from albert.data import glue
from albert.data.documents import InputError
from albert.data.features import pack_inputs
from albert.tokenization import SentencePieceTokenizer

MRPC_SAMPLE = samples.MRPC


def write(path, lines, bom=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8-sig" if bom else "utf-8")


def test_mrpc_files_with_byte_order_mark_and_quotes():
    train = glue.read_examples(glue.get_task("mrpc"), MRPC_SAMPLE, "train")
    test = glue.read_examples(glue.get_task("MRPC"), MRPC_SAMPLE, "test")
    assert len(train) == 160 and len(test) == 40
    assert {e.label for e in train} == {"0", "1"}
    assert any('"' in e.text_b for e in train)  # quotes are text, not CSV quoting
    with open(os.path.join(MRPC_SAMPLE, "train.tsv"), encoding="utf-8-sig") as f:
        first = f.readlines()[1].rstrip("\n").split("\t")
    assert (train[0].label, train[0].text_a, train[0].text_b) == (first[0], first[3], first[4])
    assert [e.guid for e in test] == [str(i) for i in range(40)]
    assert all(e.label is None for e in test)


# One row per task in GLUE's layout: (task, header or None, row, expected (text_a, text_b, label)).
LAYOUTS = [
    ("CoLA", None, "gj04\t1\t\tThe sailors rode the breeze.", ("The sailors rode the breeze.", None, "1")),
    ("SST-2", "sentence\tlabel", "a gorgeous film\t1", ("a gorgeous film", None, "1")),
    (
        "STS-B",
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
        "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\t"
        "A plane is taking off.\tAn air plane is taking off.\t5.000",
        ("A plane is taking off.", "An air plane is taking off.", 5.0),
    ),
    (
        "QQP",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
        "7\t15\t16\tHow do I read?\tHow can I read?\t1",
        ("How do I read?", "How can I read?", "1"),
    ),
    (
        "MNLI",
        "\t".join(["index", "promptID", "pairID", "genre", "s1b", "s2b", "s1p", "s2p", "sentence1", "sentence2"])
        + "\tlabel1\tgold_label",
        "\t".join(["0", "1", "2", "gov", "(", "(", "(", "(", "Tea is hot.", "Tea is cold.", "neutral"])
        + "\tcontradiction",
        ("Tea is hot.", "Tea is cold.", "contradiction"),
    ),
    (
        "QNLI",
        "index\tquestion\tsentence\tlabel",
        "0\tWho?\tHim.\tentailment",
        ("Who?", "Him.", "entailment"),
    ),
    ("RTE", "index\tsentence1\tsentence2\tlabel", "0\tA b.\tB a.\tnot_entailment", ("A b.", "B a.", "not_entailment")),
    ("WNLI", "index\tsentence1\tsentence2\tlabel", "0\tA b.\tB a.\t0", ("A b.", "B a.", "0")),
]


@pytest.mark.parametrize("name,header,row,expected", LAYOUTS, ids=[x[0] for x in LAYOUTS])
def test_task_layouts(tmp_path, name, header, row, expected):
    task = glue.get_task(name)
    write(tmp_path / task.file("dev"), ([header] if header else []) + [row, row])
    examples = glue.read_examples(task, str(tmp_path), "dev")
    assert len(examples) == 2
    assert (examples[0].text_a, examples[0].text_b, examples[0].label) == expected


def test_task_names_and_aliases():
    assert glue.get_task("sts-b") is glue.get_task("STSB")
    assert glue.get_task("mismnli").dev_file == "dev_mismatched.tsv"
    assert glue.submission_name(glue.get_task("mnli")) == "MNLI-m.tsv"
    assert glue.get_task("sst2").num_labels == 2 and glue.get_task("stsb").num_labels == 1
    with pytest.raises(InputError, match="unknown task"):
        glue.get_task("squad")


@pytest.mark.parametrize(
    "task,lines,message",
    [
        ("MRPC", ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", "1\t1\t2\tonly four"], r"dev.tsv:2: 4 tab-separated"),
        (
            "MRPC",
            ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", "0\t1\t2\ta\tb", "yes\t1\t2\ta\tb"],
            r"dev.tsv:3: .*'yes'",
        ),
        ("CoLA", ["src\t1\t\tfine", "src\t1\tfine"], r"dev.tsv:2: 3 tab-separated columns, expected 4"),
        ("STS-B", ["\t".join("abcdefghij"), "\t".join("abcdefghi") + "\tfive"], r"dev.tsv:2: score 'five'"),
    ],
)
def test_bad_rows_are_one_line_errors(tmp_path, task, lines, message):
    write(tmp_path / "dev.tsv", lines)
    with pytest.raises(InputError, match=message) as err:
        glue.read_examples(glue.get_task(task), str(tmp_path), "dev")
    assert "\n" not in str(err.value) and str(tmp_path) in str(err.value)


def test_missing_file_names_the_files(tmp_path):
    with pytest.raises(InputError, match=r"train.tsv: not found; --data_dir must hold GLUE's MRPC files"):
        glue.read_examples(glue.get_task("mrpc"), str(tmp_path), "train")


class CountingTokenizer:
    def __init__(self, tokenizer):
        self.inner, self.calls = tokenizer, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_batch(self, texts):
        self.calls += 1
        return self.inner.encode_batch(texts)


def test_features_are_packed_cached_and_never_stale(tmp_path, sample_spm_model):
    task = glue.get_task("MRPC")
    data = tmp_path / "data"
    data.mkdir()
    (data / "dev.tsv").write_bytes(open(os.path.join(MRPC_SAMPLE, "dev.tsv"), "rb").read())
    tokenizer = CountingTokenizer(SentencePieceTokenizer(sample_spm_model))
    cache = str(tmp_path / "cache")
    first = glue.cached_features(task, str(data), "dev", tokenizer, 32, cache, log=lambda line: None)
    examples = glue.read_examples(task, str(data), "dev")
    records = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(first.path)]
    assert len(records) == len(first) == 40 and first.labels == [e.label for e in examples]
    for example, record in zip(examples, records):
        ids, segments = pack_inputs(
            tokenizer.encode(example.text_a), tokenizer.encode(example.text_b), 32, tokenizer.cls_id, tokenizer.sep_id
        )
        assert list(record.features.feature["input_ids"].int64_list.value) == ids
        assert list(record.features.feature["segment_ids"].int64_list.value) == segments
        assert list(record.features.feature["label"].int64_list.value) == [int(example.label)]
    calls = tokenizer.calls
    again = glue.cached_features(task, str(data), "dev", tokenizer, 32, cache, log=lambda line: None)
    assert again.path == first.path and tokenizer.calls == calls  # read from the cache
    assert glue.cached_features(task, str(data), "dev", tokenizer, 24, cache, log=print).path != first.path
    lower = SentencePieceTokenizer(sample_spm_model, do_lower_case=False)
    assert glue.cached_features(task, str(data), "dev", lower, 32, cache, log=print).path != first.path
    with open(data / "dev.tsv", "a", encoding="utf-8") as f:
        f.write("1\t1\t2\tA new row.\tA row that is new.\n")
    changed = glue.cached_features(task, str(data), "dev", tokenizer, 32, cache, log=print)
    assert changed.path != first.path and len(changed) == 41


def test_a_bad_row_leaves_no_cache_behind(tmp_path, sample_spm_model):
    write(tmp_path / "dev.tsv", ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", "1\t1\t2\ta\tb", "1\t1\t2\ta"])
    with pytest.raises(InputError):
        glue.cached_features(
            glue.get_task("MRPC"),
            str(tmp_path),
            "dev",
            SentencePieceTokenizer(sample_spm_model),
            32,
            str(tmp_path / "c"),
        )
    assert not os.path.exists(tmp_path / "c") or os.listdir(tmp_path / "c") == []


def test_training_batches_are_full_bucketed_and_padded_to_their_longest(tmp_path, sample_spm_model):
    task = glue.get_task("MRPC")
    tokenizer = SentencePieceTokenizer(sample_spm_model)
    features = glue.cached_features(task, MRPC_SAMPLE, "train", tokenizer, 64, str(tmp_path), log=lambda line: None)
    dataset = glue.make_dataset(features, task, 8, is_training=True, seed=1, bucket_width=16, max_seq_length=64)
    for batch in dataset.take(30):
        mask = batch["input_mask"].numpy()
        lengths = mask.sum(axis=1)
        assert mask.shape[0] == 8 and mask.shape[1] == -(-lengths.max() // 8) * 8  # rounded up to 8
        assert (lengths.min() - 1) // 16 == (lengths.max() - 1) // 16  # one bucket
        assert np.all(batch["input_ids"].numpy()[mask == 0] == 0)
        assert np.all(np.isin(batch["label"].numpy(), [0, 1]))
    fixed = glue.make_dataset(features, task, 8, is_training=True, bucket_width=8, max_seq_length=64, fixed_shapes=True)
    assert {int(b["input_ids"].shape[1]) for b in fixed.take(30)} <= {8, 16, 24, 32, 40, 48, 56, 64}
    plain = glue.make_dataset(features, task, 8, is_training=True, bucket_width=0, max_seq_length=64)
    masks = [b["input_mask"].numpy() for b in plain.take(30)]
    assert max(np.ptp(m.sum(axis=1)) for m in masks) > 8  # batches as they come: lengths mixed
    assert all(m.shape[1] == -(-m.sum(axis=1).max() // 8) * 8 for m in masks)
    padded = glue.make_dataset(
        features, task, 8, is_training=True, bucket_width=0, max_seq_length=64, fixed_shapes=True
    )
    assert {tuple(b["input_ids"].shape) for b in padded.take(5)} == {(8, 64)}
    evaluation = list(glue.make_dataset(features, task, 7, is_training=False))
    assert sum(int(b["label"].shape[0]) for b in evaluation) == 160
    assert [int(x) for b in evaluation for x in b["label"].numpy()] == [int(label) for label in features.labels]
