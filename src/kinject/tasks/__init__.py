"""Tasks: what a run trains on and how it is scored. Each is one module with one class, registered
here by one line; code outside kinject registers its own with `register_task`."""

from kinject.registry import TASKS
from kinject.tasks.base import Task
from kinject.tasks.knowledge import KnowledgeTask
from kinject.tasks.math import MathTask


def register_task(task: Task, replace: bool = False) -> Task:
    return TASKS.register(task.name, task, replace)


register_task(KnowledgeTask())
register_task(MathTask())

__all__ = ["TASKS", "Task", "register_task"]
