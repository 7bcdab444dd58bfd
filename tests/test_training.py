import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import SAMPLE_PREDICTIONS as P
from conftest import SAMPLE_SEQ_LENGTH as S

from albert import losses, modeling, optimization, training
from albert.configs import get_config
from albert.data.pretraining import make_pretraining_dataset

TINY = get_config("tiny").replace(vocab_size=300, max_position_embeddings=S)


def pretrain(
    records,
    output_dir,
    steps,
    *,
    batch=32,
    accumulation=1,
    lr=2e-3,
    seed=1,
    dataset=None,
    on_log=None,
    save_every=10**9,
    init_checkpoint=None,
    config=TINY,
):
    keras.utils.set_random_seed(seed)
    model = modeling.create_pretraining_model(config, P)
    optimizer = optimization.create_optimizer("adamw", optimization.WarmupPolynomialDecay(lr, steps, steps // 10))
    training.train(
        model,
        losses.pretraining_loss,
        optimizer,
        dataset or make_pretraining_dataset(records, batch, S, P, seed=seed),
        training.LoopConfig(
            str(output_dir), steps, batch, save_checkpoints_steps=save_every, log_steps=1 if on_log else 50
        ),
        accumulation_steps=accumulation,
        denominators_fn=losses.pretraining_denominators,
        on_log=on_log,
        init_checkpoint=init_checkpoint,
        log=lambda line: None,
    )
    return model, optimizer


def evaluate(model, records):
    sums = training.evaluate(
        model, losses.pretraining_metric_sums, make_pretraining_dataset(records, 64, S, P, is_training=False)
    )
    return losses.pretraining_metrics_from_sums(sums)


def test_tiny_model_overfits_the_sample(tmp_path, sample_records):
    model, _ = pretrain(sample_records, tmp_path, 300)
    metrics = evaluate(model, sample_records)
    assert metrics["masked_lm_accuracy"] > 0.9
    assert metrics["sentence_order_accuracy"] > 0.9


def test_accumulation_and_batch_size_give_the_same_loss_curve(tmp_path, sample_records):
    curves = {}
    for accumulation in (1, 4):
        losses_seen = []
        pretrain(
            sample_records,
            tmp_path / str(accumulation),
            6,
            accumulation=accumulation,
            on_log=lambda step, m, seen=losses_seen: seen.append(m["loss"]),
        )
        curves[accumulation] = losses_seen
    assert len(curves[1]) == 6
    np.testing.assert_allclose(curves[4], curves[1], atol=1e-4, rtol=0)


def test_non_finite_loss_stops_with_the_last_good_checkpoint_intact(tmp_path, sample_records):
    good = make_pretraining_dataset(sample_records, 16, S, P, seed=1).take(12)
    poisoned = good.skip(11).take(1).map(lambda b: {**b, "masked_lm_weights": b["masked_lm_weights"] * np.inf})
    data = good.take(11).concatenate(poisoned).concatenate(good)
    with pytest.raises(training.TrainingError) as err:
        pretrain(sample_records, tmp_path, 40, batch=16, dataset=data, save_every=5)
    message = str(err.value)
    assert "step 15: the loss was not finite in 1 of the last 15 steps" in message
    assert "ckpt-10" in message and "\n" not in message
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-10")
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt-10"))
    values = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k.endswith("VARIABLE_VALUE")]
    assert all(np.isfinite(v).all() for v in values if v.dtype.kind == "f")


def test_init_checkpoint_carries_weights_not_the_optimizer(tmp_path, sample_records):
    phase1, _ = pretrain(sample_records, tmp_path / "phase1", 5, save_every=5)
    phase2_model = modeling.create_pretraining_model(TINY, P)
    training.restore_model_weights(phase2_model, str(tmp_path / "phase1"))
    for a, b in zip(phase1.weights, phase2_model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    _, optimizer = pretrain(
        sample_records, tmp_path / "phase2", 3, init_checkpoint=str(tmp_path / "phase1"), save_every=3
    )
    assert int(optimizer.iterations) == 3  # its own schedule, from step 0
    with pytest.raises(training.TrainingError, match="no checkpoint in this directory"):
        training.restore_model_weights(phase2_model, str(tmp_path / "phase1" / "train"))  # summaries only


def test_init_checkpoint_may_be_a_google_tf1_checkpoint(tmp_path, sample_records):
    from albert import checkpoints

    source = modeling.create_pretraining_model(TINY, P)
    prefix = checkpoints.save_google_checkpoint(source, str(tmp_path / "albert_tiny" / "model.ckpt-best"))
    target = modeling.create_pretraining_model(TINY, P)
    training.restore_model_weights(target, prefix)
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    pretrain(sample_records, tmp_path / "run", 2, init_checkpoint=prefix, save_every=2)
