import re
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert import losses, modeling, optimization, training
from albert.configs import get_config

from helpers import pretraining_batch

# Variables named as in Google's checkpoints; the exclusions must act on full paths.
SHAPES = {
    "bert/encoder/layer_0/attention/self/query/kernel": (4, 3),  # decayed and adapted
    "bert/encoder/layer_0/attention/self/query/bias": (3,),  # excluded ("bias")
    "bert/encoder/layer_0/attention/output/LayerNorm/gamma": (3,),  # excluded (path, not name)
    "cls/predictions/output_bias": (5,),  # excluded ("bias" inside the name)
    "bert/some/layer_norm/scale": (2,),  # excluded ("layer_norm")
    "bert/zero/kernel": (3, 2),  # starts at 0: trust ratio 1
}


def make_variables():
    rng = np.random.default_rng(0)
    variables, initial = [], {}
    for path, shape in SHAPES.items():
        *scopes, name = path.split("/")
        value = np.zeros(shape) if path.startswith("bert/zero") else rng.standard_normal(shape)
        with modeling._scope("/".join(scopes)):
            var = keras.Variable(value.astype(np.float32), name=name)
        assert var.path == path
        variables.append(var)
        initial[path] = value.astype(np.float32).astype(np.float64)
    return variables, initial


def gradient_sequence(steps):
    rng = np.random.default_rng(1)
    return [{p: rng.standard_normal(s) for p, s in SHAPES.items()} for _ in range(steps)]


def numpy_google_optimizer(
    initial, grads_per_step, lr_per_step, *, lamb, wd=0.01, b1=0.9, b2=0.999, eps=1e-6, bias_correction=False
):
    """Google's ALBERT lamb_optimizer.py / optimization.py's AdamWeightDecayOptimizer;
    with `bias_correction`, Adam's m / (1 − β1^t) and v / (1 − β2^t) (Loshchilov & Hutter's AdamW)."""
    excluded = ("LayerNorm", "layer_norm", "bias")
    w = {k: v.copy() for k, v in initial.items()}
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v = {k: np.zeros_like(x) for k, x in w.items()}
    for t, (grads, lr) in enumerate(zip(grads_per_step, lr_per_step), 1):
        for name, g in grads.items():
            g = g.astype(np.float32).astype(np.float64)
            m[name] = b1 * m[name] + (1 - b1) * g
            v[name] = b2 * v[name] + (1 - b2) * g * g
            if bias_correction:
                u = (m[name] / (1 - b1**t)) / (np.sqrt(v[name] / (1 - b2**t)) + eps)
            else:
                u = m[name] / (np.sqrt(v[name]) + eps)
            is_excluded = any(re.search(x, name) for x in excluded)
            if not is_excluded:
                u = u + wd * w[name]
            ratio = 1.0
            if lamb and not is_excluded:
                w_norm, u_norm = np.linalg.norm(w[name]), np.linalg.norm(u)
                ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            w[name] = w[name] - ratio * lr * u
    return w


def google_learning_rate(step, init_lr, total, warmup, end=0.0, power=1.0):
    """Google's create_optimizer: polynomial decay from step 0, linear warmup override."""
    decayed = (init_lr - end) * (1 - min(step, total) / total) ** power + end
    return init_lr * step / warmup if warmup and step < warmup else decayed


@pytest.mark.parametrize("name,bias_correction", [("lamb", False), ("adamw", False), ("adamw", True), ("lamb", True)])
def test_ten_steps_equal_numpy_google_update(name, bias_correction):
    variables, initial = make_variables()
    schedule = optimization.WarmupPolynomialDecay(0.05, num_train_steps=12, num_warmup_steps=3)
    optimizer = optimization.create_optimizer(name, schedule, bias_correction=bias_correction)
    grads = gradient_sequence(10)
    for step_grads in grads:
        optimizer.apply([tf.constant(step_grads[v.path], tf.float32) for v in variables], variables)
    lrs = [google_learning_rate(s, 0.05, 12, 3) for s in range(10)]
    assert lrs[0] == 0 and lrs[3] > 0  # the schedule exercised warmup and decay
    expected = numpy_google_optimizer(initial, grads, lrs, lamb=(name == "lamb"), bias_correction=bias_correction)
    for var in variables:
        # Bias correction makes early steps up to ~6x larger, and their float32 rounding with them.
        atol = 3e-6 if bias_correction else 1e-6
        np.testing.assert_allclose(var.numpy(), expected[var.path], atol=atol, rtol=0, err_msg=var.path)
        assert not np.allclose(var.numpy(), initial[var.path]) or var.path.startswith("bert/zero")


def test_exclusions_are_decided_on_full_paths():
    variables, _ = make_variables()
    optimizer = optimization.Lamb()
    optimizer.build(variables)
    decayed = {v.path for v, d in zip(variables, optimizer._decay) if d}
    adapted = {v.path for v, a in zip(variables, optimizer._adapt) if a}
    expected = {"bert/encoder/layer_0/attention/self/query/kernel", "bert/zero/kernel"}
    assert decayed == adapted == expected


def test_lamb_differs_from_keras_lamb():
    # The point of a custom optimizer: Keras' Lamb (bias correction, decay outside the ratio) is
    # a different algorithm on the same problem.
    ours_vars, _ = make_variables()
    keras_vars, _ = make_variables()
    grads = gradient_sequence(3)
    ours = optimization.Lamb(learning_rate=0.01)
    theirs = keras.optimizers.Lamb(learning_rate=0.01, epsilon=1e-6, weight_decay=0.01)
    for g in grads:
        ours.apply([tf.constant(g[v.path], tf.float32) for v in ours_vars], ours_vars)
        theirs.apply([tf.constant(g[v.path], tf.float32) for v in keras_vars], keras_vars)
    assert max(np.abs(a.numpy() - b.numpy()).max() for a, b in zip(ours_vars, keras_vars)) > 1e-4


def test_decay_after_warmup_matches_the_linear_schedule_of_nvidia_and_hugging_face():
    # lr · step / warmup during warmup, then lr · (total − step) / (total − warmup) down to 0.
    schedule = optimization.WarmupPolynomialDecay(1e-3, 100, 10, decay_after_warmup=True)
    for step in [0, 5, 10, 11, 55, 99, 100, 120]:
        expected = 1e-3 * step / 10 if step < 10 else 1e-3 * max(0, 100 - step) / 90
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-12), step


@pytest.mark.parametrize("warmup,end,power", [(0, 0.0, 1.0), (10, 0.0, 1.0), (10, 1e-5, 0.5), (100, 0.0, 1.0)])
def test_schedule_matches_googles_formula(warmup, end, power):
    schedule = optimization.WarmupPolynomialDecay(1e-3, 100, warmup, end_learning_rate=end, power=power)
    for step in [0, 1, 5, 9, 10, 11, 50, 99, 100, 150]:
        expected = google_learning_rate(step, 1e-3, 100, warmup, end, power)
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-12), step


def test_clip_by_global_norm_matches_definition():
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    norm = np.sqrt(sum((g**2).sum() for g in grads))
    clipped, reported = optimization.clip_by_global_norm([tf.constant(g) for g in grads], 1.0)
    assert float(reported) == pytest.approx(norm)
    for c, g in zip(clipped, grads):
        np.testing.assert_allclose(c.numpy(), g / norm, rtol=1e-6)
    unclipped, _ = optimization.clip_by_global_norm([tf.constant(g) for g in grads], 100.0)
    np.testing.assert_allclose(unclipped[0].numpy(), grads[0])


def test_unknown_optimizer_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'.*lamb, adamw"):
        optimization.create_optimizer("sgd", 1e-3)


def _trained_weights(accumulation_steps, batch, config):
    keras.utils.set_random_seed(123)
    model = modeling.create_pretraining_model(config, max_predictions_per_seq=4)
    optimizer = optimization.create_optimizer(
        "lamb", optimization.WarmupPolynomialDecay(1e-2, num_train_steps=10, num_warmup_steps=0)
    )
    initial = {v.path: v.numpy() for v in model.trainable_variables}
    step = training.make_train_step(
        model, losses.pretraining_loss, optimizer, accumulation_steps=accumulation_steps, clip_norm=1.0
    )
    metrics = [step(batch) for _ in range(2)]
    return initial, {v.path: v.numpy() for v in model.trainable_variables}, metrics


def test_accumulating_four_micro_batches_of_two_equals_one_batch_of_eight():
    config = get_config("tiny").replace(vocab_size=200)
    # Every example has 4 masked positions, so the mean over micro-batches is the batch mean.
    batch = pretraining_batch(8, 16, 4, config.vocab_size, seed=3)
    initial, whole, whole_metrics = _trained_weights(1, batch, config)
    _, accumulated, acc_metrics = _trained_weights(4, batch, config)
    for path in whole:
        np.testing.assert_allclose(accumulated[path], whole[path], atol=1e-5, rtol=0, err_msg=path)
    for a, b in zip(acc_metrics, whole_metrics):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), abs=1e-5)
        assert float(a["grad_norm"]) == pytest.approx(float(b["grad_norm"]), rel=1e-4)
    moved = max(np.abs(whole[p] - initial[p]).max() for p in whole)
    assert moved > 1e-3  # the updates were real


def test_micro_batches_run_one_after_another():
    # Each micro-batch's work records when it starts and ends; nothing of the next may start first.
    events = []

    def work(first_value):
        events.append(("start", float(first_value)))
        time.sleep(0.05)
        events.append(("end", float(first_value)))
        return np.float32(first_value)

    def gradient_fn(micro_batch):
        x = micro_batch["x"]
        done = tf.numpy_function(work, [x[0, 0]], tf.float32, stateful=False)
        loss = tf.reduce_sum(x) + 0.0 * done
        return loss, {}, [loss]

    step = tf.function(lambda batch: optimization.accumulate_gradients(gradient_fn, batch, 4))
    loss, _, _ = step({"x": tf.reshape(tf.range(8, dtype=tf.float32), [8, 1])})
    assert float(loss) == pytest.approx(28 / 4)
    assert events == [(kind, float(v)) for v in (0, 2, 4, 6) for kind in ("start", "end")]


def test_the_private_keras_optimizer_hooks_behave_as_relied_on():
    # AdamWeightDecay overrides `_all_reduce_sum_gradients` (a hook of Keras' TensorFlow optimizer
    # that `apply` calls) and reads `_get_variable_index`: both must still exist and do that.
    optimizer = optimization.create_optimizer("adamw", 1e-3)
    variables = [keras.Variable(np.ones(3, np.float32), name="a"), keras.Variable(np.ones(2, np.float32), name="b")]
    optimizer.build(variables)
    assert [optimizer._index(v) for v in variables] == [0, 1]
    assert callable(getattr(keras.optimizers.Optimizer, "_all_reduce_sum_gradients", None))
    calls = []
    hook = optimizer._all_reduce_sum_gradients
    optimizer._all_reduce_sum_gradients = lambda grads_and_vars: calls.append(1) or hook(grads_and_vars)
    optimizer.apply([tf.ones([3]), tf.ones([2])], variables)
    assert calls == [1]
