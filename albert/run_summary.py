"""The lines a run ends with (on the chief): its headline results, what it wrote and where,
the TensorBoard command, and the commands that naturally come next."""

from __future__ import annotations

import os
import shlex

from albert import model_folder
from albert.checkpoints import best_checkpoint
from albert.checkpoints.recovery import latest


def command(program: str, values: dict) -> str:
    """`python <program> --name=value ...` as a user types it (True: `--name`); `program` is a
    script or `-m <module>`."""
    flags = [f"--{name}" if value is True else f"--{name}={value}" for name, value in values.items()]
    return shlex.join(["python", *program.split(), *flags])


def task_command(script: str, name: str, values: dict) -> str:
    """A task's command: its script where the run's working folder has it (a clone), else
    `python -m albert.tasks <name>` (an installed package, from any folder)."""
    return command(script if os.path.isfile(script) else f"-m albert.tasks {name}", values)


def summary(task, results: dict | None) -> list[str]:
    v = task.values
    rows = []
    newest = latest(v.output_dir)
    if newest:
        rows.append(("checkpoints", f"{v.output_dir} (newest {os.path.basename(newest)}; {beside(v.output_dir)})"))
    best = best_checkpoint(v.output_dir) if task.main_metric else None
    if best:
        rows.append(("best", best))
    for path in task.output_files():
        if os.path.isfile(path):
            rows.append(("results" if path.endswith("eval_results.txt") else "predictions", path))
    if getattr(v, "export_dir", None) and os.path.isdir(v.export_dir):
        rows.append(("SavedModel", v.export_dir))
    rows.append(("TensorBoard", shlex.join(["tensorboard", "--logdir", v.summary_dir or v.output_dir])))
    rows += [("next", line) for line in task.next_commands()]
    return [f"done: {headline(task, results)}", *(f"  {name:<12} {value}" for name, value in rows)]


def beside(folder: str) -> str:
    """What the folder holds besides its checkpoints for a run that starts from it."""
    config = model_folder.find(folder, model_folder.CONFIG_FILES)
    vocabulary = model_folder.vocabulary(folder)
    if config and vocabulary:
        return "config and vocabulary beside"
    if config:
        return "config beside; no vocabulary (give --spm_model_file or --vocab_file to what starts from it)"
    return "no config beside"


def headline(task, results: dict | None) -> str:
    """The main metric (or the loss) of the results, and their step."""
    if not results:
        return task.values.output_dir
    shown = [k for k in (task.main_metric, "exact_match", "masked_lm_accuracy", "sentence_order_accuracy") if k]
    shown = [k for k in shown if k in results or f"eval_{k}" in results] or [k for k in results if "loss" in k][:1]
    values = [f"{k} {results.get(k, results.get(f'eval_{k}')):.4g}" for k in shown]
    return "  ".join(values + ([f"at step {results['global_step']}"] if "global_step" in results else []))
