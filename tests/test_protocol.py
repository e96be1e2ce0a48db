"""The wire encoding shared by the client and the daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from shellper_hook import protocol

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Text with what JSON must escape, and what it must not: quotes, backslashes,
# every C0 control, DEL, C1, line separators, bidi controls, astral characters.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))  # lone surrogates are refused before encoding
_HOSTILE = "".join(map(chr, range(0x20))) + '"\\/\x7f\x85\u2028\u2029\u202e\ufeff😀'
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT | st.just(_HOSTILE),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=30,
)


def _reference(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


@settings(max_examples=500, deadline=None)
@given(_VALUES)
def test_encode_writes_what_json_dumps_writes(value):
    assert protocol.encode({"v": value}) == _reference({"v": value})


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT, st.integers(min_value=1, max_value=2**31))
def test_a_request_reads_back_as_sent(cwd, text, pid):
    if not text.strip():
        text = "x" + text
    req = {
        "v": 1,
        "op": "translate",
        "session": pid,
        "cwd": cwd,
        "text": text + _HOSTILE,
        "reply": "nul",
        "shell": "bash",
        "settings": {"SHELLPER_MODEL": text, "config": cwd},
    }
    line = protocol.encode(req)
    assert line.count(b"\n") == 1  # one request, one line, whatever the text holds
    assert protocol.decode_request(line[:-1]) == req


def test_what_cannot_be_json_is_refused():
    for bad in ({1, 2}, object(), b"bytes"):
        try:
            protocol.encode({"v": bad})
        except TypeError:
            continue
        raise AssertionError(f"{bad!r} was encoded")


def test_the_clients_request_path_imports_nothing_heavy():
    """The client starts per request in bash and fish: its imports are its start-up time."""
    code = (
        "import sys; sys.path.append(sys.argv[1]); import shellper_hook.client; "
        "print(' '.join(m for m in ('json', 'socket', 're', 'enum', 'subprocess', 'tempfile') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, ROOT], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []
