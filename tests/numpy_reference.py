"""An independent numpy implementation of ALBERT and BERT, written from the papers' definitions
(Vaswani et al. 2017; Devlin et al. 2018; Lan et al. 2019) and Google's variable names, in float64.

It shares no code with `albert/`: weights come in as a dict {Google TF1 name: array}.
"""

from __future__ import annotations

import math

import numpy as np


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def dense(x, w, prefix):
    return x @ w[prefix + "/kernel"] + w[prefix + "/bias"]


def attention_block(h, mask, w, prefix, names, num_heads):
    """One post-LN transformer block; `names` maps roles to Google's sub-scopes."""
    b, s, width = h.shape
    d = width // num_heads

    def heads(x):  # [B, S, H] -> [B, N, S, D]
        return x.reshape(b, s, num_heads, d).transpose(0, 2, 1, 3)

    q = heads(dense(h, w, f"{prefix}/{names['self']}/query"))
    k = heads(dense(h, w, f"{prefix}/{names['self']}/key"))
    v = heads(dense(h, w, f"{prefix}/{names['self']}/value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
    scores = scores + (1.0 - mask[:, None, None, :]) * -10000.0
    context = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b, s, width)
    attn = dense(context, w, f"{prefix}/{names['attention_output']}")
    ln1 = f"{prefix}/{names['ln1']}"
    attn = layer_norm(attn + h, w[ln1 + "/gamma"], w[ln1 + "/beta"])
    inter = gelu_tanh(dense(attn, w, f"{prefix}/{names['intermediate']}"))
    out = dense(inter, w, f"{prefix}/{names['output']}")
    ln2 = f"{prefix}/{names['ln2']}"
    return layer_norm(out + attn, w[ln2 + "/gamma"], w[ln2 + "/beta"])


ALBERT_NAMES = {
    "self": "attention_1/self",
    "attention_output": "attention_1/output/dense",
    "ln1": "LayerNorm",
    "intermediate": "ffn_1/intermediate/dense",
    "output": "ffn_1/intermediate/output/dense",
    "ln2": "LayerNorm_1",
}
BERT_NAMES = {
    "self": "attention/self",
    "attention_output": "attention/output/dense",
    "ln1": "attention/output/LayerNorm",
    "intermediate": "intermediate/dense",
    "output": "output/dense",
    "ln2": "output/LayerNorm",
}


def encoder(w, cfg, input_ids, input_mask, segment_ids):
    """Returns (sequence_output [B,S,H], pooled_output [B,H]). `cfg` is a plain dict of the
    config's json keys; ALBERT when it has `embedding_size`."""
    s = input_ids.shape[1]
    mask = input_mask.astype(np.float64)
    x = (
        w["bert/embeddings/word_embeddings"][input_ids]
        + w["bert/embeddings/token_type_embeddings"][segment_ids]
        + w["bert/embeddings/position_embeddings"][:s][None]
    )
    x = layer_norm(x, w["bert/embeddings/LayerNorm/gamma"], w["bert/embeddings/LayerNorm/beta"])
    heads = cfg["num_attention_heads"]
    layers = cfg["num_hidden_layers"]
    if "embedding_size" in cfg:
        if cfg["embedding_size"] != cfg["hidden_size"]:
            x = dense(x, w, "bert/encoder/embedding_hidden_mapping_in")
        groups = cfg["num_hidden_groups"]
        for layer in range(layers):
            # Lan et al.: the layers are split into `groups` consecutive groups of equal size
            # that share parameters.
            group = layer // (layers // groups)
            for inner in range(cfg["inner_group_num"]):
                prefix = f"bert/encoder/transformer/group_{group}/inner_group_{inner}"
                x = attention_block(x, mask, w, prefix, ALBERT_NAMES, heads)
    else:
        for layer in range(layers):
            x = attention_block(x, mask, w, f"bert/encoder/layer_{layer}", BERT_NAMES, heads)
    pooled = np.tanh(dense(x[:, 0], w, "bert/pooler/dense"))
    return x, pooled


def masked_lm_logits(w, sequence_output, positions):
    gathered = np.take_along_axis(sequence_output, positions[:, :, None], axis=1)
    h = gelu_tanh(dense(gathered, w, "cls/predictions/transform/dense"))
    h = layer_norm(h, w["cls/predictions/transform/LayerNorm/gamma"], w["cls/predictions/transform/LayerNorm/beta"])
    return h @ w["bert/embeddings/word_embeddings"].T + w["cls/predictions/output_bias"]


def sentence_order_logits(w, pooled):
    return pooled @ w["cls/seq_relationship/output_weights"].T + w["cls/seq_relationship/output_bias"]
