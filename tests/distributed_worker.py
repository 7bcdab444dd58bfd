"""One worker of the distributed-training tests: pretrains the tiny ALBERT on records for a few
steps with the given engine and writes its weights before and after to <out>/{initial,weights}-<rank>.npz.

    python tests/distributed_worker.py --engine horovod --records r.tfrecord --out d   # under horovodrun

Each worker initialises its model with seed + rank, so equal results show that the chief's
weights reached every worker. The records are read in order (no shuffling), so that the
workers' shards of each global batch together hold exactly the batch one process reads.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="single")
    parser.add_argument("--records", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--data_type", default="fp32")
    parser.add_argument("--accumulation_steps", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--same_seed", action="store_true", help="seed every worker alike, as the scripts do")
    parser.add_argument("--local_devices", type=int, default=1, help="logical CPU devices (MirroredStrategy)")
    args = parser.parse_args()

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    devices = None
    if args.local_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.local_devices)
        devices = [f"/cpu:{i}" for i in range(args.local_devices)]

    import keras

    from albert import distribute, losses, modeling, optimization, precision, training
    from albert.configs import get_config
    from albert.data.pretraining import make_pretraining_dataset

    workers = distribute.create_workers(args.engine, devices)
    keras.utils.set_random_seed(100 + (0 if args.same_seed else workers.rank))
    config = get_config("tiny").replace(
        vocab_size=300, hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout
    )
    with workers.scope():
        model = modeling.create_pretraining_model(config, 10, dtype=precision.dtype_policy(args.data_type))
        schedule = optimization.WarmupPolynomialDecay(1e-3, args.steps, 2)
        optimizer = optimization.create_optimizer("lamb", schedule)
        loss_scale = precision.create_loss_scale(args.data_type)

    def save(name: str) -> None:
        weights = {v.path: np.asarray(v.numpy(), np.float32) for v in model.weights if "seed_generator" not in v.path}
        np.savez(os.path.join(args.out, f"{name}-{workers.rank}.npz"), **weights)

    save("initial")
    dataset = make_pretraining_dataset(
        args.records,
        workers.worker_batch(args.batch, args.accumulation_steps),
        64,
        10,
        shuffle_buffer=1,
        num_workers=workers.size,
        worker_index=workers.rank,
    )
    training.train(
        model,
        losses.pretraining_loss,
        optimizer,
        dataset,
        training.LoopConfig(
            output_dir=os.path.join(args.out, "run"),
            num_train_steps=args.steps,
            batch_size=args.batch,
            save_checkpoints_steps=args.steps // 2,
            log_steps=args.steps // 2,
        ),
        loss_scale=loss_scale,
        accumulation_steps=args.accumulation_steps,
        denominators_fn=losses.pretraining_denominators,
        workers=workers,
        log=workers.log,
    )
    save("weights")
    seeds = {f"{i}": np.asarray(state.numpy()) for i, state in enumerate(modeling.dropout_states(model))}
    np.savez(os.path.join(args.out, f"dropout-{workers.rank}.npz"), **seeds)


if __name__ == "__main__":
    main()
