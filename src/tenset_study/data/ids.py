"""Stable ids of tasks and programs: short BLAKE2b hashes of what identifies them.

A task is its workload (TenSet workload key or TVM structural hash) and target kind (:func:`task_id`); a
program is its task and the schedule's canonical JSON (:func:`program_id`). The same inputs give the same
id on every machine and in every run, so datasets collected or imported separately merge on their keys.
"""

from __future__ import annotations

import hashlib


def stable_id(*parts: str, length: int = 16) -> str:
    """A short, stable hexadecimal id from strings (BLAKE2b), used for task and program ids."""
    h = hashlib.blake2b(digest_size=max(8, length // 2 + 1))
    for part in parts:
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:length]


def task_id(workload: str, kind: str) -> str:
    """Task id: the workload (TenSet workload key or TVM structural hash) and the target kind."""
    return stable_id("task", workload, kind)


def program_id(task: str, trace: str) -> str:
    """Program id: the task and the schedule's canonical JSON."""
    return stable_id("program", task, trace)
