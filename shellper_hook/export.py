"""Corrections -> the model trainer's JSONL format (see tools.md, last section).

A correction is a suggestion the user edited before running it. When the
edited line is one of the 18 tool shapes, the conversation (its history,
the request, and the user's own call as the answer) is a training example.
"""

from __future__ import annotations

import os
import stat

# The model was trained on at most 5 user/model exchanges a conversation.
MAX_EXCHANGES = 5


def _assistant(call) -> dict:
    # The trainer wants arguments as a JSON object, not a string.
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": call.name, "arguments": dict(call.arguments)}}],
    }


def training_conversation(correction) -> dict | None:
    """One {"messages": [...]} line, or None when the edit was not a tool call."""
    if correction.ran_call is None:
        return None
    messages = []
    for ex in correction.history[-(MAX_EXCHANGES - 1) :]:
        messages.append({"role": "user", "content": ex.request})
        messages.append(_assistant(ex.call))
    messages.append({"role": "user", "content": correction.request})
    messages.append(_assistant(correction.ran_call))
    return {"messages": messages}


def training_conversations(corrections) -> list:
    return [conv for conv in map(training_conversation, corrections) if conv is not None]


class NotPrivate(OSError):
    """An existing output file that cannot be made private."""


def open_output(path: str):
    """The file to write an export to, readable by its owner only: it holds what
    was typed. A new file is created 0600; an existing one (replaced, as with >)
    is made 0600 before anything is written, and left alone when that cannot be
    done. A device or pipe (/dev/stdout, a FIFO) is written as it is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            if stat.S_IMODE(st.st_mode) & 0o077:
                try:
                    os.fchmod(fd, 0o600)
                except OSError:
                    raise NotPrivate(f"{path} belongs to another user and cannot be made private; nothing was written") from None
            os.ftruncate(fd, 0)
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
