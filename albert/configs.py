"""Model configurations: Google's `albert_config.json` / `bert_config.json`, and named variants.

    >>> config = get_config("albert_base_v2")
    >>> config.hidden_size, config.hidden_dropout_prob
    (768, 0.0)
    >>> config.to_json_file("/tmp/albert_config.json")
    >>> AlbertConfig.from_json_file("/tmp/albert_config.json") == config
    True

The variant table follows the `albert_config.json` files in Google's release tarballs and the
`bert_config.json` files of Google's BERT release (its `README.md`). Hugging Face's `config.json`
is read by `load_model_config` and written by `hf_config`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, ClassVar

from albert import files
from albert.activations import ACTIVATIONS, FROM_HF, HF_NAMES

# LayerNorm's epsilon in Google's BERT and ALBERT `modeling.py` (not a key of their config files;
# Hugging Face's config.json calls it `layer_norm_eps`).
LAYER_NORM_EPSILON = 1e-12


class ConfigError(ValueError):
    """A model config that cannot describe a model; the message is one line: where, then what."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """A BERT encoder, as in Google's `bert_config.json`."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    # Keys of the json file that this project does not interpret, kept so that writing the
    # config back loses nothing.
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    model_type: ClassVar[str] = "bert"
    required_keys: ClassVar[tuple[str, ...]] = (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
    )

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise ConfigError(type(self).__name__, problem)

    # -- derived values -------------------------------------------------------------------------
    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def word_embedding_size(self) -> int:
        """Width of the word, position and token-type embedding tables."""
        return self.hidden_size

    # -- json -----------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> BertConfig:
        """Builds a config from a json-style dict; `source` names it in errors."""
        if not isinstance(values, dict):
            raise ConfigError(source, f"expected a json object, got {type(values).__name__}")
        for key in cls.required_keys:
            if key not in values:
                raise ConfigError(source, f"missing key {key!r}; add it to the config file")
        names = {f.name for f in dataclasses.fields(cls) if f.name != "extra"}
        known = {k: v for k, v in values.items() if k in names}
        extra = {k: v for k, v in values.items() if k not in names}
        try:
            return cls(**known, extra=extra)
        except ConfigError as err:
            raise ConfigError(source, err.problem) from None

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> BertConfig:
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except FileNotFoundError:
            raise ConfigError(path, "config file not found") from None
        except IsADirectoryError:
            raise ConfigError(path, "is a folder; pass the config file in it (e.g. albert_config.json)") from None
        except OSError as err:
            raise ConfigError(path, f"cannot be read ({err.strerror}); check the path") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}:{err.lineno}", f"not valid json ({err.msg}); fix the file") from None
        return cls.from_dict(values, source=path)

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        values.update(self.extra)
        return dict(sorted(values.items()))

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path: str | os.PathLike) -> None:
        """Writes the config atomically (a reader never sees half a file)."""
        path = os.fspath(path)
        tmp = files.temporary_path(path)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_json_string())
        os.replace(tmp, path)

    def replace(self, **changes: Any) -> BertConfig:
        """A copy with some values changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)

    # -- validation -----------------------------------------------------------------------------
    def _problem(self) -> str | None:
        """What makes this config impossible, or None."""
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                return f"{name} must be a positive integer, got {value!r}"
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                return f"{name} must be a number in [0, 1), got {value!r}"
        if (
            isinstance(self.initializer_range, bool)
            or not isinstance(self.initializer_range, (int, float))
            or self.initializer_range <= 0
        ):
            return f"initializer_range must be a positive number, got {self.initializer_range!r}"
        if self.hidden_act not in ACTIVATIONS:
            return f"hidden_act {self.hidden_act!r} is unknown; use one of {', '.join(sorted(ACTIVATIONS))}"
        if self.hidden_size % self.num_attention_heads:
            return f"hidden_size {self.hidden_size} is not divisible by num_attention_heads {self.num_attention_heads}"
        return None


@dataclasses.dataclass(frozen=True)
class AlbertConfig(BertConfig):
    """An ALBERT encoder, as in Google's `albert_config.json`.

    Defaults are those of Google's `AlbertConfig` for the optional keys; ALBERT v2 and xxlarge
    have no dropout. `down_scale_factor`, `net_structure_type`, `gap_size` and
    `num_memory_blocks` are kept for the json round trip; like Google's `modeling.py`, the model
    does not read them.
    """

    embedding_size: int = 128
    num_hidden_groups: int = 1
    inner_group_num: int = 1
    down_scale_factor: int = 1
    net_structure_type: int = 0
    gap_size: int = 0
    num_memory_blocks: int = 0
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0

    model_type: ClassVar[str] = "albert"
    required_keys: ClassVar[tuple[str, ...]] = BertConfig.required_keys + ("embedding_size",)

    @property
    def word_embedding_size(self) -> int:
        return self.embedding_size

    def _problem(self) -> str | None:
        problem = super()._problem()
        if problem:
            return problem
        for name in ("embedding_size", "num_hidden_groups", "inner_group_num"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                return f"{name} must be a positive integer, got {value!r}"
        if self.num_hidden_layers % self.num_hidden_groups:
            return (
                f"num_hidden_groups {self.num_hidden_groups} does not divide num_hidden_layers {self.num_hidden_layers}"
            )
        return None


# ----------------------------------------------------------------------------------------------
# Named variants
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ModelSize:
    """An ALBERT size: its config values, whether Google released it, and the demo's batches.

    Args:
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, embedding_size:
            the config values (Google's `albert_config.json` files).
        dropout_v1: `hidden_dropout_prob` and `attention_probs_dropout_prob` of v1; v2 has none.
        released: Google released it, v1 and v2 (`albert_<size>_v<n>.tar.gz`).
        demo_batch: the demo launcher's default sequences per worker, by test set, as
            (bf16, fp32); bookswiki's are strings, one number per phase ("64,8").
    """

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    embedding_size: int = 128
    dropout_v1: float = 0.0
    released: bool = True
    demo_batch: dict[str, tuple] = dataclasses.field(default_factory=dict)


# Google's ALBERT sizes (the `albert_config.json` of each release tarball; xxlarge has no dropout)
# and `tiny`, a small model for CPU demos and tests.
def _demo_batch(overfit: tuple, bookswiki: tuple, mrpc: tuple, squad: tuple) -> dict[str, tuple]:
    return {"overfit": overfit, "bookswiki": bookswiki, "mrpc": mrpc, "squad": squad}


# fmt: off
SIZES: dict[str, ModelSize] = {
    # name: hidden, layers, heads, intermediate, ...; the demo's batches per worker as (bf16, fp32)
    # for overfit, bookswiki (one per phase), mrpc and squad
    "tiny": ModelSize(64, 4, 4, 256, embedding_size=32, released=False,
                      demo_batch=_demo_batch((32, 32), ("64,8", "32,8"), (32, 32), (16, 16))),
    "base": ModelSize(768, 12, 12, 3072, dropout_v1=0.1,
                      demo_batch=_demo_batch((32, 32), ("64,8", "32,8"), (64, 32), (24, 10))),
    "large": ModelSize(1024, 24, 16, 4096, dropout_v1=0.1,
                       demo_batch=_demo_batch((32, 32), ("32,8", "16,8"), (32, 16), (12, 5))),
    "xlarge": ModelSize(2048, 24, 16, 8192, dropout_v1=0.1,
                        demo_batch=_demo_batch((16, 16), ("16,4", "8,4"), (16, 8), (6, 3))),
    "xxlarge": ModelSize(4096, 12, 64, 16384,
                         demo_batch=_demo_batch((8, 8), ("8,2", "4,2"), (8, 4), (3, 2))),
}
# fmt: on


def _sizes(hidden: int, layers: int, heads: int, intermediate: int, dropout: float, **other) -> dict:
    return dict(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        **other,
    )


def _albert(size: ModelSize, dropout: float, **other) -> dict:
    return _sizes(
        size.hidden_size,
        size.num_hidden_layers,
        size.num_attention_heads,
        size.intermediate_size,
        dropout,
        vocab_size=30000,
        embedding_size=size.embedding_size,
        **other,
    )


def _bert(*sizes) -> dict:
    return _sizes(*sizes, vocab_size=30522)  # the uncased vocab.txt


# Keys that one released config has and the others lack (xxlarge v1's tarball).
_RELEASE_EXTRAS = {"albert_xxlarge_v1": {"layers_to_keep": []}}


def _released_variants() -> dict[str, dict[str, Any]]:
    variants = {}
    for name, size in SIZES.items():
        if size.released:
            for version, dropout in (("v1", size.dropout_v1), ("v2", 0.0)):
                variant = f"albert_{name}_{version}"
                variants[variant] = _albert(size, dropout, **_RELEASE_EXTRAS.get(variant, {}))
    return variants


# name: the config's json values. ALBERT (those with `embedding_size`): Google's release
# tarballs, v2 without dropout; BERT: Google's uncased_L-12_H-768_A-12 and L-24_H-1024_A-16.
VARIANTS: dict[str, dict[str, Any]] = {
    **_released_variants(),
    "bert_base": _bert(768, 12, 12, 3072, 0.1),
    "bert_large": _bert(1024, 24, 16, 4096, 0.1),
    # "small": the shape of Google's BERT-Small (uncased_L-4_H-512_A-8), for AWS's --model_size=small.
    "albert_small": _albert(ModelSize(512, 4, 8, 2048, released=False), 0.0),
    "bert_small": _bert(512, 4, 8, 2048, 0.1),
    # Small models for CPU demos and tests; `tiny` keeps ALBERT's 30k vocabulary size.
    "tiny": _albert(SIZES["tiny"], SIZES["tiny"].dropout_v1),
    "bert_tiny": _bert(64, 2, 4, 256, 0.0),
}


def get_config(name: str) -> AlbertConfig | BertConfig:
    """The config of a named variant: albert_{base,large,xlarge,xxlarge}_v{1,2}, bert_{base,large},
    albert_small, bert_small, tiny (ALBERT) or bert_tiny."""
    try:
        values = VARIANTS[name]
    except KeyError:
        raise ConfigError("model variant", f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}") from None
    config_class = AlbertConfig if "embedding_size" in values else BertConfig
    return config_class.from_dict(values, source=f"variant {name}")


def load_config(path: str | os.PathLike, model_type: str | None = None) -> AlbertConfig | BertConfig:
    """Reads an `albert_config.json` or `bert_config.json`.

    Without `model_type`, a file with an `embedding_size` key is ALBERT and one without is BERT.
    """
    if model_type is None:
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except (OSError, json.JSONDecodeError):
            values = {}  # from_json_file below gives the precise error
        model_type = "albert" if isinstance(values, dict) and "embedding_size" in values else "bert"
    if model_type == "albert":
        return AlbertConfig.from_json_file(path)
    if model_type == "bert":
        return BertConfig.from_json_file(path)
    raise ConfigError("model_type", f"unknown model type {model_type!r}; use 'albert' or 'bert'")


# ----------------------------------------------------------------------------------------------
# Hugging Face's config.json
# ----------------------------------------------------------------------------------------------

# The keys of a Hugging Face config.json that mean what they mean in Google's files.
_HF_KEYS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
)


def config_from_hf(path: str) -> BertConfig:
    """A config from a Hugging Face `config.json` (BERT or ALBERT); its activation names are
    translated (`activations.FROM_HF`: its "gelu" is the exact erf form, this project's
    "gelu_erf"; its "gelu_new" is Google's tanh "gelu")."""
    with open(path, encoding="utf-8") as f:
        values = json.load(f)
    act = FROM_HF.get(values.get("hidden_act"), values.get("hidden_act"))
    common = {k: values[k] for k in _HF_KEYS if k in values}
    if values.get("model_type") == "albert":
        extra = {k: values[k] for k in ("embedding_size", "num_hidden_groups", "inner_group_num") if k in values}
        return AlbertConfig.from_dict({**common, **extra, "hidden_act": act}, source=path)
    return BertConfig.from_dict({**common, "hidden_act": act}, source=path)


def named_or_file(source: str, model_type: str | None = None) -> BertConfig:
    """The config of a variant name (albert_base_v2, tiny, ...) or of a config file (a file of
    that name wins)."""
    if not os.path.exists(source) and source in VARIANTS:
        return get_config(source)
    return load_model_config(source, model_type)


def load_model_config(path: str, model_type: str | None = None) -> BertConfig:
    """A config from Google's albert_config.json / bert_config.json (`model_type`, or guessed from
    the keys) or from a Hugging Face config.json (it names its `model_type`)."""
    try:
        with open(path, encoding="utf-8") as f:
            is_hf = "model_type" in json.load(f)
    except (OSError, ValueError):
        is_hf = False  # load_config gives the one-line error
    return config_from_hf(path) if is_hf else load_config(path, model_type)


def hf_config(config: BertConfig) -> dict:
    """Hugging Face's config.json for `config`."""

    values = {k: v for k, v in config.to_dict().items() if k not in config.extra}
    values["hidden_act"] = HF_NAMES.get(config.hidden_act, config.hidden_act)
    values["model_type"] = config.model_type
    values["layer_norm_eps"] = LAYER_NORM_EPSILON
    values["architectures"] = ["AlbertForPreTraining" if config.model_type == "albert" else "BertForPreTraining"]
    return values
