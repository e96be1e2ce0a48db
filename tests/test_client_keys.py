"""What keys typed while fish waits for an answer amount to (the client reads them off the terminal)."""

from __future__ import annotations

import pytest

from shellper_hook.client import typed_keys


@pytest.mark.parametrize(
    "data, meant",
    [
        (b"", ""),
        (b"\r", ""),  # Enter: runs nothing, the answer still comes
        (b"\r\n\x1b[A\x1b[B\x1bOC", ""),  # Enter and arrows only
        (b" and mor\x7fre", "t and mor\x7fre"),  # text and Backspace, applied to the line by the shell
        (b"x\x07y", "c"),  # Ctrl-G cancels, whatever came before
        (b"\x1b[?1;2c", ""),  # a terminal's reply to a query
        (b"\x1b]11;rgb:0000/0000/0000\x07", ""),  # an OSC reply ends with BEL: not a Ctrl-G
        (b"\x1b]0;title\x1b\\", ""),
        (b"\x1b[200~pasted text\x1b[201~", "tpasted text"),  # a paste's brackets go, its text stays
        (b"\x1bxq", "tq"),  # Alt-x is no text
        ("é☃".encode(), "té☃"),
        (b"\xc2\x9b31m\x00\x01", ""),  # C1 and C0 controls never reach the line
        (b"\xff", "t\ufffd"),
    ],
)
def test_typed_keys(data, meant):
    assert typed_keys(data) == meant
