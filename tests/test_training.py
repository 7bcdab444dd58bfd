import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import SAMPLE_PREDICTIONS as P
from conftest import SAMPLE_SEQ_LENGTH as S

from albert import checkpoints, losses, modeling, optimization, training
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
    init_optimizer=False,
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
        init_optimizer=init_optimizer,
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
    assert all(np.isfinite(v).all() for v in values if getattr(v, "dtype", None) is not None and v.dtype.kind == "f")


def test_init_checkpoint_carries_weights_not_the_optimizer(tmp_path, sample_records):
    phase1, _ = pretrain(sample_records, tmp_path / "phase1", 5, save_every=5)
    phase2_model = modeling.create_pretraining_model(TINY, P)
    checkpoints.load_weights(phase2_model, str(tmp_path / "phase1"))
    for a, b in zip(phase1.weights, phase2_model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    _, optimizer = pretrain(
        sample_records, tmp_path / "phase2", 3, init_checkpoint=str(tmp_path / "phase1"), save_every=3
    )
    assert int(optimizer.iterations) == 3  # its own schedule, from step 0
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint in this directory"):
        checkpoints.load_weights(phase2_model, str(tmp_path / "phase1" / "train"))  # summaries only


def test_init_checkpoint_may_be_a_google_tf1_checkpoint(tmp_path, sample_records):
    source = modeling.create_pretraining_model(TINY, P)
    prefix = checkpoints.save_google_checkpoint(source, str(tmp_path / "albert_tiny" / "model.ckpt-best"))
    target = modeling.create_pretraining_model(TINY, P)
    checkpoints.load_weights(target, prefix)
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    pretrain(sample_records, tmp_path / "run", 2, init_checkpoint=prefix, save_every=2)


def test_google_checkpoint_directory_and_its_global_step_for_evaluation(tmp_path):
    source = modeling.create_pretraining_model(TINY, P)
    checkpoints.save_google_checkpoint(source, str(tmp_path / "albert_tiny" / "model.ckpt-best"), global_step=77)
    target = modeling.create_pretraining_model(TINY, P)
    # a Google tarball's folder has no `checkpoint` file
    step = checkpoints.restore_for_evaluation(target, str(tmp_path / "empty_output"), str(tmp_path / "albert_tiny"))
    assert step == 77
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_variables_without_gradient_are_not_decayed(tmp_path, sample_records):
    # The span model does not use the pooler: Google's optimizers leave such variables alone,
    # whereas a zero gradient would still shrink them through weight decay.
    from albert import losses as task_losses

    model = modeling.create_span_model(TINY)
    pooler = model.get_layer("bert").pooler.kernel
    before = pooler.numpy().copy()

    def span_loss(outputs, batch):
        loss = task_losses.span_loss(
            outputs["start_logits"],
            outputs["end_logits"],
            batch["masked_lm_positions"][:, 0],
            batch["masked_lm_positions"][:, 1],
        )
        return loss, {}

    optimizer = optimization.create_optimizer("lamb", 0.1)
    step = training.make_train_step(model, span_loss, optimizer)
    for batch in make_pretraining_dataset(sample_records, 8, S, P, seed=1).take(3):
        step(batch)
    np.testing.assert_array_equal(pooler.numpy(), before)
    assert np.abs(model.get_layer("bert").embeddings.word_embeddings.numpy()).sum() > 0


def test_loop_settings_are_checked():
    with pytest.raises(ValueError, match="--log_steps must be at least 1"):
        training.LoopConfig("out", num_train_steps=10, batch_size=8, log_steps=0)


def test_resuming_with_other_settings_is_a_clear_error(tmp_path, sample_records):
    from albert import precision

    pretrain(sample_records, tmp_path, 2, save_every=2)
    model = modeling.create_pretraining_model(TINY, P)
    with pytest.raises(checkpoints.CheckpointError, match="cannot resume, it was written with other settings"):
        training.train(
            model,
            losses.pretraining_loss,
            optimization.create_optimizer("adamw", 1e-3),
            make_pretraining_dataset(sample_records, 32, S, P, seed=1),
            training.LoopConfig(str(tmp_path), 4, 32),
            loss_scale=precision.create_loss_scale("fp16"),
            log=lambda line: None,
        )


def encoder_weights(model):
    return {v.path: v.numpy() for v in model.weights if v.path.startswith("bert/")}


@pytest.mark.parametrize("source_format", ["project", "google", "hf"])
def test_a_fine_tuning_model_starts_from_a_pretrained_encoder(tmp_path, source_format):
    pretrained = modeling.create_pretraining_model(TINY, P)
    for variable in pretrained.weights:  # values unlike any initialisation
        variable.assign(np.random.default_rng(len(variable.path)).standard_normal(variable.shape))
    path = {
        "project": lambda: checkpoints.save_weights(pretrained, str(tmp_path / "ckpt-1")),
        "google": lambda: checkpoints.save_google_checkpoint(pretrained, str(tmp_path / "model.ckpt-best")),
        "hf": lambda: checkpoints.save_hf_checkpoint(pretrained, str(tmp_path / "model.safetensors"), "albert"),
    }[source_format]()
    classifier = modeling.create_classifier_model(TINY, num_labels=3)
    head = [v.numpy() for v in classifier.get_layer("classifier").weights]
    with pytest.raises(checkpoints.CheckpointError, match="classifier|output_weights"):
        checkpoints.load_weights(classifier, path)  # the head is not in the checkpoint
    checkpoints.load_weights(classifier, path, new_heads=True)
    expected = encoder_weights(pretrained)
    assert encoder_weights(classifier).keys() == expected.keys()
    for name, value in encoder_weights(classifier).items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    for before, after in zip(head, classifier.get_layer("classifier").weights):
        np.testing.assert_array_equal(before, after.numpy())  # the new head is left as initialised


def test_a_second_phase_takes_the_optimizer_moments_with_a_new_step_count(tmp_path, sample_records):
    """AWS's phase 2 (--load_from=checkpoint): the first phase's weights and Adam moments, a step
    count and schedule of its own."""
    _, first = pretrain(sample_records, tmp_path / "phase1", 6, save_every=6)
    model, second = pretrain(sample_records, tmp_path / "phase2", 1, init_checkpoint=str(tmp_path / "phase1/ckpt-6"),
                             init_optimizer=True)  # fmt: skip
    assert int(second.iterations.numpy()) == 1  # the new run's one step
    # One AdamW step from the loaded moments gives m = beta_1 m_6 + (1 - beta_1) g; a fresh optimizer's
    # first step from the same weights, on the same batch, gives (1 - beta_1) g.
    _, fresh = pretrain(sample_records, tmp_path / "fresh", 1, init_checkpoint=str(tmp_path / "phase1/ckpt-6"))
    loaded_m, fresh_m, first_m = (
        np.concatenate([v.numpy().ravel() for v in o.variables if v.path.endswith("_adam_m")])
        for o in (second, fresh, first)
    )
    assert np.linalg.norm(first_m) > 0.05
    np.testing.assert_allclose(loaded_m - 0.9 * first_m, fresh_m, atol=1e-6)
