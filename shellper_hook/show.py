"""Text made safe to print on a terminal.

What shellper prints can hold text it does not control: the model's
arguments, history rows from older databases, the model server's own error
words, file names. A raw ESC, C1 CSI (U+009B) or OSC 52 in it would clear
the screen, move the cursor or write the clipboard, and bidi controls can
show text in another order than it runs. Every such character is shown as
a visible escape (\\x1b, \\u202e) instead.
"""

from __future__ import annotations

import json
import re

# C0, DEL and C1; the line and paragraph separators; bidi embeddings,
# overrides, isolates and marks; lone surrogates (undecodable file names),
# which would not even encode for output.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text, keep: str = "") -> str:
    """`text` with every control character shown as an escape, except those in
    `keep` (say "\\n\\t" where a line break or tab is meant)."""
    text = str(text)
    if not keep:
        return _UNSAFE.sub(_escape, text)
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


def safe_json(value) -> str:
    """JSON text that keeps readable UTF-8 but holds no raw control character:
    those can only sit inside strings, where \\uXXXX is the same value."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))
