"""The tasks, by name. A new task is one module here and one line in `TASKS`."""

from __future__ import annotations

from albert.tasks.base import Task
from albert.tasks.classifier import ClassifierTask
from albert.tasks.pretraining import PretrainingTask
from albert.tasks.squad import SquadTask

TASKS: dict[str, type[Task]] = {task.name: task for task in (PretrainingTask, ClassifierTask, SquadTask)}
