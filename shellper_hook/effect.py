"""The effect line: what a validated call will do to the real files, in plain words.

The words are look.py's prediction, outcome first (look.KINDS): "fails: docs
already exists (a folder); nothing is made", "fails part-way:", "asks first:",
"may fail:", "waits:", or what it does ("reads:", "moves the shell:",
"creates:", "changes:", "deletes:") to which files. It never raises.
"""

from __future__ import annotations

from .look import DEADLINE, KINDS, look

__all__ = ["KINDS", "describe"]


def describe(call, cwd: str, home: str | None = None, allow_recursive: bool = False, budget: float = DEADLINE) -> str:
    """One line: the outcome, then what happens to which files (look.Seen.line)."""
    return look(call, cwd, home, allow_recursive, deadline=budget).line
