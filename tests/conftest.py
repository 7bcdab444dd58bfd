import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

from albert import samples  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_TEXT = samples.SAMPLE_TEXT
SHARED_DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
# For the scripts the tests start: `python data_preprocessing/x.py` puts data_preprocessing/ on
# sys.path, not the root; PYTHONPATH makes this tree's albert the one they import, installed or not.
SCRIPT_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}


@pytest.fixture(scope="session")
def sample_spm_model(tmp_path_factory) -> str:
    """A SentencePiece vocabulary trained here on the project's own sample text, with ALBERT's
    settings (ids 0-4: <pad> <unk> [CLS] [SEP] [MASK])."""
    from albert.tokenization import train_sentencepiece

    prefix = tmp_path_factory.mktemp("spm") / "sample"
    return train_sentencepiece([SAMPLE_TEXT], str(prefix), vocab_size=300)


def shared_file(*parts: str) -> str:
    """A file of ../shared/data; the test is skipped when it is absent."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent (real third-party data lives outside the project)")
    return path


SAMPLE_SEQ_LENGTH, SAMPLE_PREDICTIONS = 64, 10


@pytest.fixture(scope="session")
def sample_records(tmp_path_factory, sample_spm_model) -> str:
    """Pretraining records of the sample text (sequence 64, 10 predictions, dupe_factor 2)."""
    from albert.data.instances import MaskingConfig
    from albert.data.pretraining_records import TokenizerSpec, create_pretraining_records

    path = str(tmp_path_factory.mktemp("records") / "sample.tfrecord")
    create_pretraining_records(
        [SAMPLE_TEXT],
        [path],
        TokenizerSpec(sample_spm_model),
        MaskingConfig(max_seq_length=SAMPLE_SEQ_LENGTH, max_predictions_per_seq=SAMPLE_PREDICTIONS),
        dupe_factor=2,
        chunk_bytes=1500,
    )
    return path
