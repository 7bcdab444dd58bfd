"""Runs the toolkit's tasks with sensible defaults, on one device or across workers, with
Habana's demo_albert.py flags.

    python demo_albert.py                                   # tiny ALBERT learns the sample text by heart (CPU, ~30 s)
    python demo_albert.py -c pretraining -t overfit -m tiny -d bf16 -v 2 --distribution tf
    python demo_albert.py -c finetuning -t mrpc -m base -d bf16 --dataset_path glue/MRPC
    python demo_albert.py -c finetuning -t squad -m large -d bf16 -v 8 --dataset_path squad
    python demo_albert.py -c pretraining -t bookswiki -m base -d bf16 -v 8 --dataset_path books_wiki
    MULTI_HLS_IPS=10.0.0.1,10.0.0.2 python demo_albert.py -c pretraining -t bookswiki -v 8 ...
    python demo_albert.py ... --dry_run                     # print the commands, run nothing

Test sets: `overfit` pretrains on the sample text that ships with the package (its vocabulary
and records are made first); `bookswiki` runs phase 1 (sequence 128) then phase 2 (512) from
phase 1's weights, on <dataset_path>/seq_len_{128,512}/training/*; `mrpc` and `squad` fine-tune
the released model (downloaded once), or the tiny model on the package's MRPC and SQuAD
samples. -b is the batch of each worker; the scripts get the global batch (-b × workers), so
their schedules match the steps run. Without --learning_rate, pretraining uses LAMB at
0.00176 × sqrt(global batch / 4096), MRPC 2e-5 and SQuAD 5e-5 (AdamW).

-v N starts N workers per box: Horovod through mpirun (bound to cores, as Habana's launcher) or
horovodrun (--launcher), or tf.distribute workers with TF_CONFIG (--distribution tf). Several
boxes come from --hosts or MULTI_HLS_IPS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from albert import launch, run

COMMANDS = launch.COMMANDS
HLS_WORKERS = 8  # -v True: the Gaudi cards of one HLS box
# The one-line errors: the launcher's refusals, and the project's (settings, a failed download...).
ERRORS = (launch.LaunchError, *run.ERRORS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="demo_albert.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("-c", "--command", choices=sorted(COMMANDS), default="pretraining")
    add("-d", "--data_type", choices=("fp32", "bf16", "fp16"), default="fp32")
    add("-m", "--model_variant", choices=launch.VARIANTS, default="tiny")
    add("--version", choices=("v1", "v2"), default="v2", help="released ALBERT version (Habana's demo used v1)")
    add("-t", "--test_set", choices=tuple(launch.TEST_SETS), help="default: overfit (pretraining), mrpc (finetuning)")
    add("-o", "--output_dir", help="default: output/<test_set>_<variant>_<data_type>")
    add(
        "-v",
        "--use_horovod",
        type=_workers,
        metavar="N|True|False",
        help=f"N workers per box (Horovod unless --distribution tf); True: --num_workers_per_hls, else {HLS_WORKERS}",
    )
    add("--num_workers_per_hls", type=int, metavar="N", help="workers per box (the same as -v N)")
    add("--distribution", choices=("horovod", "tf"), default="horovod")
    add("--launcher", choices=("mpirun", "horovodrun"), help="Horovod's launcher (default: mpirun if installed)")
    add("--hosts", help="comma-separated boxes (default: MULTI_HLS_IPS)")
    add("--device", choices=("cpu", "gpu", "hpu"), help="default: a GPU if there is one")
    add("-e", "--epochs", type=float, help="fine-tuning epochs (instead of --train_steps)")
    add("-s", "--max_seq_length", help="bookswiki: one per phase, e.g. 128,512")
    add("--train_steps", help="bookswiki: one per phase")
    add("--warmup_steps", help="bookswiki: one per phase")
    add("-b", "--batch_size", help="sequences per worker per step (bookswiki: one per phase)")
    add("--save_ckpt_steps", type=int)
    add("--learning_rate", type=float)
    add("--dataset_path")
    add("--albert-config-dir", "--albert_config_dir", dest="albert_config_dir",
        help="folder with albert_config.json, 30k-clean.model (and model.ckpt-best), not the download")  # fmt: skip
    add("--init_checkpoint_path", help="start from this checkpoint (folder, prefix or released name)")
    switch = {"type": _bool, "nargs": "?", "const": True, "default": False, "metavar": "BOOL"}  # --flag [True|False]
    add("--kubernetes_run", **switch, help="started by an MPI job (one launcher per worker)")
    add("--enable_scoped_allocator", **switch,
        help="TensorFlow's scoped allocator for Horovod's all-reduces (TF_ENABLE_SCOPED_ALLOCATOR=true)")  # fmt: skip
    add("--bf16_config_path", metavar="FILE", help="Intel Gaudi's bf16 conversion list (TF_BF16_CONVERSION); hpu only")
    add("--dry_run", action="store_true", help="print the commands, run nothing")
    add("--verbose", action="store_true", help="show TensorFlow's start-up lines (also ALBERT_VERBOSE=1)")
    add("--cores_per_box", type=int, default=os.cpu_count() or 1, help=argparse.SUPPRESS)
    add("--python", default=sys.executable, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    args.test_set = args.test_set or COMMANDS[args.command][0]
    if args.test_set not in COMMANDS[args.command]:
        other = "pretraining" if args.command == "finetuning" else "finetuning"
        parser.error(f"-t {args.test_set} is a {other} test set; pass -c {other}")
    if args.use_horovod is True:
        args.use_horovod = args.num_workers_per_hls or HLS_WORKERS
    if args.use_horovod and args.num_workers_per_hls and args.use_horovod != args.num_workers_per_hls:
        parser.error("-v and --num_workers_per_hls disagree; give one")
    per_box = 1 if args.use_horovod is False else args.use_horovod or args.num_workers_per_hls or 1
    if args.bf16_config_path and args.device != "hpu":
        parser.error("--bf16_config_path is Intel Gaudi's bf16 conversion: pass --device hpu, or -d bf16 alone")
    hosts = [h for h in (args.hosts or os.environ.get("MULTI_HLS_IPS", "")).split(",") if h]
    if per_box < 1:
        parser.error("-v must be at least 1")
    if args.kubernetes_run and args.distribution != "horovod":
        parser.error("--kubernetes_run runs under an MPI job: Horovod only")
    launcher = args.launcher or ("mpirun" if _on_path("mpirun") or args.dry_run else "horovodrun")
    args.placement = launch.Placement(
        workers_per_box=per_box,
        hosts=hosts if len(hosts) > 1 else [],
        distribution=args.distribution,
        launcher=launcher,
        device=args.device,
        cores_per_box=args.cores_per_box,
        kubernetes=args.kubernetes_run,
        env=habana_env(args),
    )
    default_output = os.path.join("output", f"{args.test_set}_{args.model_variant}_{args.data_type}")
    args.output_dir = args.output_dir or default_output
    return args


def _workers(text: str) -> int | bool:
    """-v's value: a number of workers per box, or Habana's True / False."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers, True or False") from None


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"{text!r} is not True or False")
    return text.lower() in ("true", "1")


def habana_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment every worker gets from Habana's flags."""
    env = {}
    if args.enable_scoped_allocator:
        env["TF_ENABLE_SCOPED_ALLOCATOR"] = "true"
    if args.bf16_config_path:
        env["TF_BF16_CONVERSION"] = os.path.abspath(args.bf16_config_path)
    return env


def _on_path(name: str) -> bool:
    return shutil.which(name) is not None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.verbose:
        os.environ["ALBERT_VERBOSE"] = "1"  # the steps' commands show them too
    try:
        launch.check_not_nested(args.kubernetes_run)
        if args.bf16_config_path and not args.dry_run and not os.path.isfile(args.bf16_config_path):
            raise launch.LaunchError(f"--bf16_config_path {args.bf16_config_path}: no such file")
        if not args.dry_run:
            launch.check_launcher(args.placement, args.python)
        plan = launch.build_plan(args, dry_run=args.dry_run)
        if args.test_set == "overfit" and not args.dry_run:
            shutil.rmtree(os.path.join(args.output_dir, "pretraining"), ignore_errors=True)  # trains afresh
        launch.run_plan(plan, args.placement, args.output_dir, args.dry_run)
    except ERRORS as err:
        print(f"demo_albert.py: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
