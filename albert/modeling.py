"""ALBERT and BERT in Keras 3: embeddings, the (shared) transformer, the pooler, task heads.

Every variable's `path` is the name Google's TF1 code gives it, so checkpoints map one to one:

    bert/embeddings/word_embeddings                                   [V, E]
    bert/encoder/embedding_hidden_mapping_in/kernel                   [E, H]   (ALBERT, E != H)
    bert/encoder/transformer/group_0/inner_group_0/attention_1/self/query/kernel   (ALBERT)
    bert/encoder/layer_0/attention/self/query/kernel                  (BERT)
    bert/pooler/dense/kernel
    cls/predictions/transform/dense/kernel, cls/predictions/output_bias
    cls/seq_relationship/output_weights                               [2, H]

Layers are post-LayerNorm transformer blocks (LayerNorm ε 1e-12) with an additive −10000 mask on
padded keys, as in Google's `modeling.py`. ALBERT runs one block per layer and lets
`num_hidden_groups` groups of `inner_group_num` blocks share their weights: layer `l` uses group
`floor(l · groups / layers)` and runs that group's blocks in order.

Mixed precision: pass a Keras dtype policy (`"mixed_bfloat16"`, `"mixed_float16"`) as `dtype`.
Variables stay float32; embeddings, LayerNorm, attention softmax and every output logit are
computed in float32.

    >>> from albert.configs import get_config
    >>> model = create_pretraining_model(get_config("tiny"), max_predictions_per_seq=20)
    >>> sorted(model.output)
    ['masked_lm_logits', 'sentence_order_logits']
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import keras
import tensorflow as tf

from albert import kernels
from albert.activations import gelu_form, get_activation
from albert.configs import LAYER_NORM_EPSILON, AlbertConfig, BertConfig

MASK_ADDER = -10000.0
INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


@contextlib.contextmanager
def _scope(path: str) -> Iterator[None]:
    """Nested Keras name scopes for a "a/b/c" path (Keras refuses "/" inside one scope)."""
    with contextlib.ExitStack() as stack:
        for part in path.split("/") if path else ():
            stack.enter_context(keras.name_scope(part))
        yield


def _initializer(config: BertConfig) -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


class Float32Variables:
    """For layers that read their variables in float32 under a mixed policy: every variable they
    make is never autocast. (The layer's own `autocast=False` is not enough: Keras still reads
    them in the compute dtype when such a layer runs eagerly inside a mixed model.)"""

    def add_weight(self, *args, **kwargs):
        return super().add_weight(*args, **{**kwargs, "autocast": False})


class Dense(keras.layers.Dense):
    """Keras' Dense (same variables, `kernel` and `bias`) whose bias gradient is summed in float32
    (`kernels.bias_add`). With a GELU activation (`activations.gelu_form`), the bias add and the
    GELU are one fused kernel (`kernels.bias_gelu`)."""

    def __init__(self, units: int, activation: str | None = None, **kwargs):
        gelu = gelu_form(activation)
        super().__init__(units, activation=get_activation(activation) if activation and not gelu else None, **kwargs)
        self.gelu = gelu

    def call(self, inputs, training=None):
        x = keras.ops.matmul(inputs, self.kernel)
        bias = tf.convert_to_tensor(self.bias)
        if self.gelu:
            return kernels.bias_gelu(x, bias, self.gelu)
        return self.activation(kernels.bias_add(x, bias))


class Dropout(keras.layers.Dropout):
    """Keras' Dropout (the same seed-generator state; no `noise_shape`), with two corrections:

    - 16-bit inputs: Keras draws the uniform numbers in the input's dtype, and bfloat16 has 128
      of them in [0, 1): a rate of 0.1 drops 13/128 = 10.2 % and scales the rest by
      bfloat16(1/0.9) = 1.109, shrinking the layer's output by 0.3 % on average. Here the draw,
      the mask and the scaling are float32: the rate is exact and the mean is kept.
    - Local replicas of a tf.distribute strategy: Keras draws every replica's mask from the one
      mirrored seed state, so that the GPUs of one process would drop the same positions of
      their slices. Here the replica's id is folded into the seed.

    In float32 on one replica the output is Keras' own, bit for bit: the same uniform numbers
    from the same seed (Keras' int64 state folded to int32 as Keras does), compared and scaled
    alike."""

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32)
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group)
        keep = tf.random.stateless_uniform(tf.shape(inputs), seed) >= self.rate
        scaled = tf.cast(inputs, tf.float32) * (1.0 / (1.0 - self.rate))
        return tf.cast(tf.where(keep, scaled, 0.0), inputs.dtype)


def _dense(units: int, config: BertConfig, name: str, dtype: Any, activation: str | None = None) -> Dense:
    return Dense(units, activation, kernel_initializer=_initializer(config), name=name, dtype=dtype)


class LayerNorm(Float32Variables, keras.layers.LayerNormalization):
    """Keras' LayerNormalization (same variables, `gamma` and `beta`) over the last axis,
    computed in float32 with float32 parameters by one fused kernel (`kernels.layer_norm`)."""

    def __init__(self, **kwargs):
        super().__init__(epsilon=LAYER_NORM_EPSILON, autocast=False, **kwargs)

    def call(self, inputs):
        gamma, beta = tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta)
        return kernels.layer_norm(inputs, gamma, beta, self.epsilon, self.compute_dtype)


def _layer_norm(name: str, dtype: Any) -> keras.layers.LayerNormalization:
    return LayerNorm(name=name, dtype=dtype)


def _build_in(layer: keras.layers.Layer, path: str, input_shape) -> None:
    """Builds `layer` with its variables under `path` (the layer's own name is added by Keras)."""
    with _scope(path):
        layer.build(input_shape)


# ----------------------------------------------------------------------------------------------
# Embeddings
# ----------------------------------------------------------------------------------------------


class Embeddings(Float32Variables, keras.layers.Layer):
    """Word + token-type + position embeddings, LayerNorm, dropout.

    Computed in float32 whatever the policy (the sum of three embeddings and its normalisation
    lose precision in 16 bits); the output is cast to the compute dtype.

    Args:
        config: the model config; the tables are `config.word_embedding_size` wide (ALBERT's E,
            BERT's H).
    """

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.config = config
        self.layer_norm = _layer_norm("LayerNorm", dtype="float32")
        self.dropout = Dropout(config.hidden_dropout_prob, dtype=self.dtype_policy)

    def build(self, input_shape=None) -> None:
        c = self.config
        width = c.word_embedding_size
        self.word_embeddings = self.add_weight(
            shape=(c.vocab_size, width), initializer=_initializer(c), name="word_embeddings"
        )
        self.token_type_embeddings = self.add_weight(
            shape=(c.type_vocab_size, width), initializer=_initializer(c), name="token_type_embeddings"
        )
        self.position_embeddings = self.add_weight(
            shape=(c.max_position_embeddings, width),
            initializer=_initializer(c),
            name="position_embeddings",
        )
        self.layer_norm.build((None, None, width))

    def call(self, input_ids, segment_ids, training=None):
        seq_length = tf.shape(input_ids)[1]
        tf.debugging.assert_less_equal(
            seq_length,
            self.config.max_position_embeddings,
            message="sequence longer than max_position_embeddings; shorten max_seq_length or use a larger config",
        )
        x = tf.gather(self.word_embeddings, input_ids)
        x += tf.gather(self.token_type_embeddings, segment_ids)
        x += self.position_embeddings[tf.newaxis, :seq_length]
        x = self.layer_norm(x)
        x = tf.cast(x, self.compute_dtype)
        return self.dropout(x, training=training)


# ----------------------------------------------------------------------------------------------
# Unpadding
# ----------------------------------------------------------------------------------------------


class Packing:
    """The real tokens of a padded batch, for the layers that work token by token (dense layers,
    LayerNorm, dropout), so that they skip the padding. `pack` keeps the positions whose
    `input_mask` is 1, in order, and appends zero rows up to a multiple of `ROWS`:
    [B, S, H] → [T', H]; `unpack` puts the real tokens back with zeros at the padding; `rows`
    maps positions [B, P] to their packed rows.

    The row count is rounded so that batches share shapes: each new shape costs compiling the
    fused kernels and new oneDNN primitives. The extra rows stay finite (LayerNorm of a constant
    row is its β) and are dropped by `unpack`, so nothing flows back through them."""

    ROWS = 64

    def __init__(self, input_mask: tf.Tensor):
        self.indices = tf.where(input_mask > 0)  # [T, 2]: (row, position)
        self.shape = tf.shape(input_mask, out_type=tf.int64)
        self.count = tf.shape(self.indices)[0]

    def pack(self, x: tf.Tensor) -> tf.Tensor:
        return tf.pad(tf.gather_nd(x, self.indices), [[0, -self.count % self.ROWS], [0, 0]])

    def unpack(self, x: tf.Tensor) -> tf.Tensor:
        shape = tf.concat([self.shape, tf.shape(x, out_type=tf.int64)[1:]], 0)
        return tf.scatter_nd(self.indices, x[: self.count], shape)

    def rows(self, positions: tf.Tensor) -> tf.Tensor:
        return tf.gather(tf.scatter_nd(self.indices, tf.range(self.count), self.shape), positions, batch_dims=1)


# ----------------------------------------------------------------------------------------------
# Transformer block
# ----------------------------------------------------------------------------------------------

# Google's path of each sub-layer of a block, under the block's own scope, in its two layouts.
BLOCK_LAYOUTS = {
    "albert": {
        "query": "attention_1/self/query",
        "key": "attention_1/self/key",
        "value": "attention_1/self/value",
        "attention_output": "attention_1/output/dense",
        "attention_layer_norm": "LayerNorm",
        "intermediate": "ffn_1/intermediate/dense",
        "output_dense": "ffn_1/intermediate/output/dense",
        "output_layer_norm": "LayerNorm_1",
    },
    "bert": {
        "query": "attention/self/query",
        "key": "attention/self/key",
        "value": "attention/self/value",
        "attention_output": "attention/output/dense",
        "attention_layer_norm": "attention/output/LayerNorm",
        "intermediate": "intermediate/dense",
        "output_dense": "output/dense",
        "output_layer_norm": "output/LayerNorm",
    },
}


class TransformerBlock(keras.layers.Layer):
    """One post-LayerNorm transformer block: self-attention, residual + LayerNorm, feed-forward,
    residual + LayerNorm.

    Args:
        config: the model config (sizes, activation, dropout, initializer).
        layout: "albert" or "bert": the variable names of Google's ALBERT or BERT.

    The call takes the hidden states [B, S, H] and the int32 `input_mask` [B, S] (1 real token,
    0 padding); padded keys get −10000 added to their attention scores. With int32 `positions`
    [B, P] it returns the block's output at those positions only, [B, P, H]: their queries attend
    to every key, and nothing is computed for the other positions' queries. With a `Packing`,
    `hidden` holds the real tokens only, [T, H], and so does the output (or [B, P, H] at
    `positions`); only the attention is computed on the padded batch.
    """

    def __init__(self, config: BertConfig, layout: str, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.paths = BLOCK_LAYOUTS[layout]
        h = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        policy = self.dtype_policy

        def dense(role: str, units: int, activation: str | None = None) -> Dense:
            return _dense(units, config, self.paths[role].rpartition("/")[2], policy, activation)

        def layer_norm(role: str) -> keras.layers.LayerNormalization:
            return _layer_norm(self.paths[role].rpartition("/")[2], policy)

        self.query = dense("query", h)
        self.key = dense("key", h)
        self.value = dense("value", h)
        self.attention_output = dense("attention_output", h)
        self.attention_layer_norm = layer_norm("attention_layer_norm")
        self.intermediate = dense("intermediate", config.intermediate_size, config.hidden_act)
        self.output_dense = dense("output_dense", h)
        self.output_layer_norm = layer_norm("output_layer_norm")
        self.attention_dropout = Dropout(config.attention_probs_dropout_prob, dtype=policy)
        self.hidden_dropout = Dropout(config.hidden_dropout_prob, dtype=policy)

    def build(self, input_shape) -> None:
        hidden = (None, None, self.config.hidden_size)
        for role, path in self.paths.items():
            width = (None, None, self.config.intermediate_size) if role == "output_dense" else hidden
            _build_in(getattr(self, role), path.rpartition("/")[0], width)

    def call(self, hidden, input_mask, positions=None, packing=None, training=None):
        batch, seq_length = tf.shape(input_mask)[0], tf.shape(input_mask)[1]
        # Built here from the integer mask: a float mask argument would be autocast to 16 bits.
        attention_mask = (1.0 - tf.cast(input_mask[:, tf.newaxis, tf.newaxis, :], tf.float32)) * MASK_ADDER
        # With `positions`, only those positions' queries (and the rest of the block) are computed.
        if positions is None:
            queries = hidden
        elif packing is None:
            queries = tf.gather(hidden, positions, batch_dims=1)
        else:
            queries = tf.gather(hidden, packing.rows(positions))
        q, k, v = self.query(queries), self.key(hidden), self.value(hidden)
        if packing is not None:  # the attention itself works on the padded batch
            k, v = packing.unpack(k), packing.unpack(v)
            if positions is None:
                q = packing.unpack(q)
        num_queries = tf.shape(q)[1]

        def heads(x: tf.Tensor, length) -> tf.Tensor:  # [B, S, H] -> [B, N, S, D]
            return tf.transpose(tf.reshape(x, [batch, length, self.num_heads, self.head_size]), [0, 2, 1, 3])

        q, k, v = heads(q, num_queries), heads(k, seq_length), heads(v, seq_length)
        # Batched matmuls on [B, N, S, D]: their gradients are batched matmuls too (an einsum over
        # [B, S, N, D] transposes its operands in every pass, forward and backward).
        scores = tf.matmul(q, k, transpose_b=True)
        probs = kernels.attention_probs(scores, attention_mask, 1.0 / math.sqrt(self.head_size), self.compute_dtype)
        probs = self.attention_dropout(probs, training=training)
        context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
        context = tf.reshape(context, [batch, num_queries, self.config.hidden_size])
        if packing is not None and positions is None:
            context = packing.pack(context)
        attention = self.hidden_dropout(self.attention_output(context), training=training)
        attention = self.attention_layer_norm(attention + queries)
        ffn = self.output_dense(self.intermediate(attention))
        ffn = self.hidden_dropout(ffn, training=training)
        return self.output_layer_norm(ffn + attention)


# ----------------------------------------------------------------------------------------------
# Encoder
# ----------------------------------------------------------------------------------------------


def albert_group_of_layer(layer_index: int, num_hidden_layers: int, num_hidden_groups: int) -> int:
    """The group whose weights layer `layer_index` uses (Google's `int(l / layers * groups)`)."""
    return layer_index * num_hidden_groups // num_hidden_layers


class Encoder(keras.layers.Layer):
    """The ALBERT or BERT encoder: embeddings, (projection,) transformer, pooler.

    Named "bert" by default, like Google's variable scope for both models.

    Call with a dict of int32 tensors `input_ids`, `input_mask`, `segment_ids` ([B, S]); returns
    `{"sequence_output": [B, S, H], "pooled_output": [B, H]}`.

    Heads that read few positions let the last block skip the rest. With int32 `positions`
    [B, P], the last block is computed at [CLS] (for the pooler) and those positions only, and
    `sequence_output` is [B, P, H], the final states at `positions` (the masked-LM head's
    input). With `pooled_only`, only [CLS] is computed and only `pooled_output` returned (the
    classifier). The results are those of the whole sequence at those positions: the last
    block's queries are independent of each other, and its keys and values still cover every
    position. With `unpad`, everything but the attention runs on the real tokens only (see
    `Packing`): batches with much padding (fine-tuning on short pairs) skip its compute, and
    `sequence_output` is zero at the padding. The shapes then depend on the data, which XLA
    cannot compile.

    Args:
        config: an `AlbertConfig` (factorised embeddings, shared groups) or a `BertConfig`.
    """

    def __init__(self, config: BertConfig, name: str = "bert", **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = config
        self.is_albert = isinstance(config, AlbertConfig)
        policy = self.dtype_policy
        self.embeddings = Embeddings(config, name="embeddings", dtype=policy)
        self.embedding_projection = None
        if self.is_albert:
            if config.embedding_size != config.hidden_size:
                self.embedding_projection = _dense(config.hidden_size, config, "embedding_hidden_mapping_in", policy)
            inner = config.inner_group_num
            # Block g·inner + i is inner_group_i of group_g.
            blocks = [
                TransformerBlock(config, "albert", name=f"inner_group_{i}", dtype=policy)
                for _ in range(config.num_hidden_groups)
                for i in range(inner)
            ]
            self.block_schedule = tuple(
                tuple(range(g * inner, (g + 1) * inner))
                for g in (
                    albert_group_of_layer(l, config.num_hidden_layers, config.num_hidden_groups)
                    for l in range(config.num_hidden_layers)
                )
            )
        else:
            blocks = [
                TransformerBlock(config, "bert", name=f"layer_{l}", dtype=policy)
                for l in range(config.num_hidden_layers)
            ]
            self.block_schedule = tuple((l,) for l in range(config.num_hidden_layers))
        # One attribute per block: TensorFlow checkpoints track attributes, not Keras' lists.
        for index, block in enumerate(blocks):
            setattr(self, f"block_{index}", block)
        self.num_blocks = len(blocks)
        self.pooler = _dense(config.hidden_size, config, "dense", policy, activation="tanh")

    @property
    def blocks(self) -> list[TransformerBlock]:
        return [getattr(self, f"block_{index}") for index in range(self.num_blocks)]

    def build(self, input_shape=None) -> None:
        c = self.config
        self.embeddings.build((None, None))
        hidden = (None, None, c.hidden_size)
        if self.embedding_projection is not None:
            _build_in(self.embedding_projection, "encoder", (None, None, c.embedding_size))
        for index, block in enumerate(self.blocks):
            group = index // c.inner_group_num if self.is_albert else None
            _build_in(block, f"encoder/transformer/group_{group}" if self.is_albert else "encoder", hidden)
        _build_in(self.pooler, "pooler", (None, c.hidden_size))

    def call(self, inputs, positions=None, pooled_only=False, unpad=False, training=None):
        input_ids = inputs["input_ids"]
        input_mask = inputs["input_mask"]
        hidden = self.embeddings(input_ids, inputs["segment_ids"], training=training)
        packing = Packing(input_mask) if unpad else None
        if packing is not None:
            hidden = packing.pack(hidden)
        if self.embedding_projection is not None:
            hidden = self.embedding_projection(hidden)
        blocks = self.blocks
        *first_blocks, last_block = (blocks[index] for layer_blocks in self.block_schedule for index in layer_blocks)
        for block in first_blocks:
            hidden = block(hidden, input_mask, packing=packing, training=training)
        if positions is None and not pooled_only:
            hidden = last_block(hidden, input_mask, packing=packing, training=training)
            if packing is not None:
                hidden = packing.unpack(hidden)
            return {"sequence_output": hidden, "pooled_output": self.pooler(hidden[:, 0])}
        # Only [CLS] (for the pooler) and `positions` need the last block's output.
        wanted = tf.zeros_like(input_ids[:, :1])
        if not pooled_only:
            wanted = tf.concat([wanted, positions], axis=1)
        hidden = last_block(hidden, input_mask, positions=wanted, packing=packing, training=training)
        outputs = {"pooled_output": self.pooler(hidden[:, 0])}
        if not pooled_only:
            outputs["sequence_output"] = hidden[:, 1:]
        return outputs

    def compute_output_spec(self, inputs, positions=None, pooled_only=False, unpad=False, training=None):
        ids = inputs["input_ids"]
        h = self.config.hidden_size
        outputs = {"pooled_output": keras.KerasTensor((ids.shape[0], h), dtype=self.compute_dtype)}
        if not pooled_only:
            shape = tuple(ids.shape if positions is None else positions.shape) + (h,)
            outputs["sequence_output"] = keras.KerasTensor(shape, dtype=self.compute_dtype)
        return outputs


# ----------------------------------------------------------------------------------------------
# Heads
# ----------------------------------------------------------------------------------------------


class MaskedLMHead(Float32Variables, keras.layers.Layer):
    """Masked-LM head on the gathered masked positions only: dense + activation + LayerNorm, then
    logits against the (tied) input word embeddings plus an output bias.

    Google's variables: `cls/predictions/transform/{dense,LayerNorm}`, `cls/predictions/output_bias`.

    Args:
        config: the model config; the transform maps H to the embedding width.
        embeddings: the encoder's `Embeddings` layer (its word table is reused, not copied).

    Call with the sequence output [B, S, H] and int32 positions [B, P], or with the states at
    the masked positions [B, P, H] alone; returns float32 logits [B, P, V].
    """

    def __init__(self, config: BertConfig, embeddings: Embeddings, **kwargs):
        # autocast off: the output bias is added in float32; the table is cast explicitly.
        super().__init__(autocast=False, **kwargs)
        self.config = config
        self.embeddings = embeddings
        policy = self.dtype_policy
        self.transform = _dense(config.word_embedding_size, config, "dense", policy, config.hidden_act)
        self.layer_norm = _layer_norm("LayerNorm", policy)

    def build(self, input_shape=None) -> None:
        width = self.config.word_embedding_size
        _build_in(self.transform, "transform", (None, None, self.config.hidden_size))
        _build_in(self.layer_norm, "transform", (None, None, width))
        self.output_bias = self.add_weight(shape=(self.config.vocab_size,), initializer="zeros", name="output_bias")

    def call(self, sequence_output, positions=None):
        x = sequence_output if positions is None else tf.gather(sequence_output, positions, batch_dims=1)
        x = self.layer_norm(self.transform(x))
        table = tf.cast(self.embeddings.word_embeddings, self.compute_dtype)
        # One [B·P, E] × [E, V] product: on [B, P, E] the table's gradient would be a batched
        # matmul making a [B, V, E] tensor, then summed over B (5 % of a pretraining step).
        logits = tf.matmul(kernels.rows(x), table, transpose_b=True)
        logits = tf.reshape(logits, tf.concat([tf.shape(x)[:-1], [self.config.vocab_size]], 0))
        return tf.cast(logits, tf.float32) + self.output_bias

    def compute_output_spec(self, sequence_output, positions=None):
        shape = tuple(sequence_output.shape[:2] if positions is None else positions.shape)
        return keras.KerasTensor(shape + (self.config.vocab_size,), dtype="float32")


class PooledClassifierHead(Float32Variables, keras.layers.Layer):
    """Logits from the pooled [CLS] output: `pooled @ output_weights.T + output_bias`.

    Weights are stored [num_outputs, H] (out × in) as in Google's `seq_relationship` and
    classifier heads. Used for sentence-order prediction (BERT: next-sentence) and for sequence
    classification or regression (`num_outputs` 1).

    Args:
        num_outputs: number of classes (1 for regression).
        hidden_size: H.
        initializer_range: stddev of the truncated-normal initializer.
        dropout: dropout on the pooled output before the projection (fine-tuning uses 0.1).
    """

    def __init__(self, num_outputs: int, hidden_size: int, initializer_range: float, dropout: float = 0.0, **kwargs):
        super().__init__(autocast=False, **kwargs)  # the bias is added in float32
        self.num_outputs = num_outputs
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.dropout = Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape=None) -> None:
        self.output_weights = self.add_weight(
            shape=(self.num_outputs, self.hidden_size),
            initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range),
            name="output_weights",
        )
        self.output_bias = self.add_weight(shape=(self.num_outputs,), initializer="zeros", name="output_bias")

    def call(self, pooled_output, training=None):
        x = self.dropout(pooled_output, training=training)
        weights = tf.cast(self.output_weights, self.compute_dtype)
        logits = tf.matmul(x, weights, transpose_b=True)
        return tf.cast(logits, tf.float32) + self.output_bias

    def compute_output_spec(self, pooled_output, training=None):
        return keras.KerasTensor((pooled_output.shape[0], self.num_outputs), dtype="float32")


class SpanHead(Float32Variables, keras.layers.Layer):
    """SQuAD start/end logits from the sequence output (Google's `cls/squad/output_weights` [2, H],
    `output_bias` [2]). Returns float32 `(start_logits, end_logits)`, each [B, S].

    Padding is never an answer: its logits are `MASK_ADDER`, so that the loss's softmax and its
    gradients see the real tokens only, whatever the batch is padded to. (Google's head leaves
    them free, and a model trained on batches of one fixed length learns to push them down.)"""

    def __init__(self, hidden_size: int, initializer_range: float, **kwargs):
        super().__init__(autocast=False, **kwargs)  # the bias is added in float32
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range

    def build(self, input_shape=None) -> None:
        self.output_weights = self.add_weight(
            shape=(2, self.hidden_size),
            initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range),
            name="output_weights",
        )
        self.output_bias = self.add_weight(shape=(2,), initializer="zeros", name="output_bias")

    def call(self, sequence_output, input_mask):
        weights = tf.cast(self.output_weights, self.compute_dtype)
        logits = tf.einsum("bsh,oh->bso", sequence_output, weights)
        logits = tf.cast(logits, tf.float32) + self.output_bias
        logits = tf.where(input_mask[..., tf.newaxis] > 0, logits, MASK_ADDER)
        return logits[..., 0], logits[..., 1]

    def compute_output_spec(self, sequence_output, input_mask):
        shape = tuple(sequence_output.shape[:2])
        return keras.KerasTensor(shape, dtype="float32"), keras.KerasTensor(shape, dtype="float32")


class PretrainingHeads(keras.layers.Layer):
    """Google's `cls` scope: the masked-LM head (`cls/predictions`) and the sentence-order (ALBERT)
    or next-sentence (BERT) head (`cls/seq_relationship`)."""

    def __init__(self, config: BertConfig, embeddings: Embeddings, name: str = "cls", **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = config
        policy = self.dtype_policy
        self.predictions = MaskedLMHead(config, embeddings, name="predictions", dtype=policy)
        self.seq_relationship = PooledClassifierHead(
            2, config.hidden_size, config.initializer_range, name="seq_relationship", dtype=policy
        )

    def build(self, input_shape=None) -> None:
        self.predictions.build(None)
        self.seq_relationship.build(None)

    def call(self, sequence_output, pooled_output, masked_lm_positions=None, training=None):
        return {
            "masked_lm_logits": self.predictions(sequence_output, masked_lm_positions),
            "sentence_order_logits": self.seq_relationship(pooled_output, training=training),
        }

    def compute_output_spec(self, sequence_output, pooled_output, masked_lm_positions=None, training=None):
        return {
            "masked_lm_logits": self.predictions.compute_output_spec(sequence_output, masked_lm_positions),
            "sentence_order_logits": self.seq_relationship.compute_output_spec(pooled_output),
        }


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------


def _nested_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer inside `model`, depth first. Keras has no public walk of nested layers
    (`Model.layers` lists the top level only); its private `_flatten_layers` is used here alone,
    and tests/test_modeling.py fails if it changes."""
    return model._flatten_layers(include_self=False)


def dropout_states(model: keras.Model) -> list[tf.Variable]:
    """The state variables of the model's dropout (Keras seed generators of Dropout layers with a
    rate > 0), in the order of its layers, depth first. The model's own checkpoint entry does not
    hold them; saving them makes a resumed run draw the same masks. (`model.variables` holds the
    same variables in another order, which would give the states of old checkpoints to other
    layers.)"""
    return [
        layer.seed_generator.state.value
        for layer in _nested_layers(model)
        if getattr(layer, "seed_generator", None) is not None
    ]


def select_inputs(model: keras.Model, features: dict) -> dict:
    """The entries of `features` that `model` takes (a functional model given a dict with extra
    keys matches them by position, not by name)."""
    return {name: features[name] for name in model.input}


def _inputs(seq_length: int | None) -> dict[str, keras.KerasTensor]:
    return {name: keras.Input((seq_length,), dtype="int32", name=name) for name in INPUT_NAMES}


def create_encoder(config: BertConfig, dtype: Any = None, seq_length: int | None = None) -> keras.Model:
    """The encoder alone: inputs `input_ids`, `input_mask`, `segment_ids`; outputs
    `sequence_output` and `pooled_output`. `dtype` is a Keras dtype policy name."""
    inputs = _inputs(seq_length)
    encoder = Encoder(config, dtype=dtype)
    return keras.Model(inputs, encoder(inputs), name=f"{config.model_type}_encoder")


def create_pretraining_model(
    config: BertConfig,
    max_predictions_per_seq: int | None = None,
    dtype: Any = None,
    seq_length: int | None = None,
) -> keras.Model:
    """Encoder + masked-LM + sentence-order heads (Google's `run_pretraining.py` model).

    Inputs: `input_ids`, `input_mask`, `segment_ids` [B, S] and `masked_lm_positions` [B, P];
    outputs: float32 `masked_lm_logits` [B, P, V] and `sentence_order_logits` [B, 2].
    """
    inputs = _inputs(seq_length)
    inputs["masked_lm_positions"] = keras.Input((max_predictions_per_seq,), dtype="int32", name="masked_lm_positions")
    encoder = Encoder(config, dtype=dtype)
    encoded = encoder({name: inputs[name] for name in INPUT_NAMES}, positions=inputs["masked_lm_positions"])
    heads = PretrainingHeads(config, encoder.embeddings, dtype=dtype)
    outputs = heads(encoded["sequence_output"], encoded["pooled_output"])
    return keras.Model(inputs, outputs, name=f"{config.model_type}_pretraining")


def create_classifier_model(
    config: BertConfig,
    num_labels: int,
    dropout: float = 0.1,
    dtype: Any = None,
    seq_length: int | None = None,
    unpad: bool = False,
) -> keras.Model:
    """Encoder + a classifier on the pooled output (`num_labels` 1 for regression, e.g. STS-B).

    Output: float32 `logits` [B, num_labels]. Google's classifier applies dropout 0.1 to the
    pooled output whatever the encoder's dropout. `unpad`: see `Encoder`.
    """
    inputs = _inputs(seq_length)
    encoder = Encoder(config, dtype=dtype)
    encoded = encoder(inputs, pooled_only=True, unpad=unpad)
    head = PooledClassifierHead(
        num_labels,
        config.hidden_size,
        config.initializer_range,
        dropout=dropout,
        name="classifier",
        dtype=dtype,
    )
    return keras.Model(inputs, {"logits": head(encoded["pooled_output"])}, name="classifier")


def create_span_model(
    config: BertConfig, dtype: Any = None, seq_length: int | None = None, unpad: bool = False
) -> keras.Model:
    """Encoder + SQuAD span head; outputs float32 `start_logits` and `end_logits` [B, S].
    `unpad`: see `Encoder`."""
    inputs = _inputs(seq_length)
    encoder = Encoder(config, dtype=dtype)
    encoded = encoder(inputs, unpad=unpad)
    with keras.name_scope("cls"):
        start, end = SpanHead(config.hidden_size, config.initializer_range, name="squad", dtype=dtype)(
            encoded["sequence_output"], inputs["input_mask"]
        )
    return keras.Model(inputs, {"start_logits": start, "end_logits": end}, name="span_predictor")
