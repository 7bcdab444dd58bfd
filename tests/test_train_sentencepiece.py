import os
import subprocess
import sys

import sentencepiece as spm
from conftest import ROOT, SAMPLE_TEXT, SCRIPT_ENV

from albert.tokenization import SentencePieceTokenizer


def test_vocabulary_has_alberts_layout(sample_spm_model):
    sp = spm.SentencePieceProcessor(model_file=sample_spm_model)
    assert [sp.id_to_piece(i) for i in range(5)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, -1, -1)
    assert all(sp.is_control(i) for i in (2, 3, 4))
    for symbol in ["(", ")", '"', "-", ".", "–", "£", "€"]:  # ALBERT's user-defined symbols
        assert sp.piece_to_id(symbol) != sp.unk_id()
    tok = SentencePieceTokenizer(sample_spm_model)
    assert (tok.cls_id, tok.sep_id, tok.mask_id, tok.vocab_size) == (2, 3, 4, 300)
    # trained on preprocessed (lower-cased) text: casing does not change the ids
    assert tok.encode("The Keeper climbed the steps.") == tok.encode("the keeper climbed the steps.")
    assert tok.decode(tok.encode("the keeper climbed the steps.")) == "the keeper climbed the steps."


def test_too_large_vocabulary_is_a_one_line_error(tmp_path):
    script = os.path.join(ROOT, "data_preprocessing", "train_sentencepiece.py")
    result = subprocess.run(
        [sys.executable, script, f"--input_file={SAMPLE_TEXT}", f"--model_prefix={tmp_path}/m", "--vocab_size=5000"],
        capture_output=True,
        text=True,
        timeout=60,
        env=SCRIPT_ENV,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "Vocabulary size too high" in result.stderr
