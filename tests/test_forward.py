"""A forward (what `shellper ssh` opens): a server's shell asks through it, untrusted; its answers
are judged on the facts the server's shell sends, never on the laptop's files."""

from __future__ import annotations

import os
import socket
import stat

import pytest
from daemon_helpers import fake_shell

from shellper_hook import client, protocol, remote

S = remote.SEP
HOME, CWD = "/home/far", "/home/far/proj"


def rec(path, kind, size=0, mode="644", access="rw", files=0, folders=0, total=0, lines=-1, nl=1, mtime=1_700_000_000):
    return S.join([path, kind, str(size), mode, access, "", str(files), str(folders), str(total), "1", str(lines), str(nl), str(mtime)])


FACTS = [
    rec(HOME, "d", 4096, "755", "rwx"),
    rec(CWD, "d", 4096, "755", "rwx"),
    rec(CWD + "/notes.txt", "f", 1234, "644", "rw", lines=40, nl=0),
]


def _send(path: str, fields: list) -> list:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(path)
        s.sendall(b"".join(f.encode() + b"\0" for f in fields) + b"\0")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode().split("\0")[:-1]


def _ask(fwd: dict, text: str, token: str | None = None, pid: int = 4242, cwd: str = CWD) -> list:
    return _send(fwd["socket"], ["translate", str(pid), "zsh", cwd, text, f"token={token or fwd['token']}", f"HOME={HOME}"])


def _answer(fwd: dict, ask_id: str, facts: list, pid: int = 4242, cwd: str = CWD) -> list:
    return _send(fwd["socket"], ["facts", str(pid), "zsh", cwd, ask_id, f"token={fwd['token']}", *(f"fact={f}" for f in facts)])


@pytest.fixture
def fwd(daemon_env, fake):
    with fake_shell() as owner:
        reply = client.request({"op": "forward", "owner": str(owner)})
        assert reply["ok"], reply
        yield reply
        client.request({"op": "unforward", "id": reply["id"]})


def test_a_servers_shell_gets_a_command_judged_on_its_own_facts(fwd, fake):
    fake.answer("drop the notes", "rm", {"file_name": "notes.txt"})
    st = os.stat(fwd["socket"])
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    kind, ask_id, *wanted = _ask(fwd, "drop the notes")
    assert kind == "facts" and {w.split(S)[0] for w in wanted} >= {CWD, HOME, CWD + "/notes.txt"}, wanted
    got = _answer(fwd, ask_id, FACTS)
    assert got[:2] == ["ok", "rm notes.txt"], got
    assert got[2].startswith("deletes: notes.txt (1.2 KB, changed "), got  # the server's size and time, never a local file's
    assert not os.path.exists(CWD)  # (no such folder here: the laptop's files are not looked at)


def test_what_the_server_did_not_say_is_not_there(fwd, fake):
    fake.answer("drop the notes", "rm", {"file_name": "notes.txt"})
    _, ask_id, *_ = _ask(fwd, "drop the notes")
    got = _answer(fwd, ask_id, FACTS[:2])
    assert got[0] == "ok" and got[2].startswith("fails: notes.txt is not there"), got


def test_a_wrong_token_an_unknown_question_and_other_operations_are_refused(fwd, fake):
    fake.answer("drop the notes", "rm", {"file_name": "notes.txt"})
    assert _ask(fwd, "drop the notes", token="0" * 32)[:2] == ["error", "denied"]
    assert _answer(fwd, "not-asked", FACTS)[:2] == ["error", "bad_request"]
    for op in ("status", "stop", "reset", "history", "export"):
        got = _send(fwd["socket"], [op, "4242", "zsh", CWD, "", f"token={fwd['token']}", "all=1"])
        assert got[0] == "error", (op, got)
    assert client.request({"op": "ping"})["ok"]  # the daemon is still there


def test_paths_outside_the_folder_and_home_or_in_system_folders_are_not_judged(fwd, fake):
    fake.answer("copy notes to etc", "cp", {"source": "notes.txt", "destination": "/etc/notes.txt"})
    fake.answer("remove up there", "rm", {"file_name": "../../../../../../../../etc/passwd"})
    for text in ("copy notes to etc", "remove up there"):
        _, ask_id, *_ = _ask(fwd, text)
        got = _answer(fwd, ask_id, FACTS)
        assert got[:2] == ["error", "refused"] and "outside this folder and your home" in got[2], got


def test_hostile_facts_are_dropped_and_a_flood_is_slowed(fwd, fake):
    fake.answer("drop the notes", "rm", {"file_name": "notes.txt"})
    _, ask_id, *_ = _ask(fwd, "drop the notes")
    hostile = [
        CWD + "/notes.txt" + S + "f",  # too few parts
        rec(CWD + "/../notes.txt", "f", 5),  # not normalised
        rec("notes.txt", "f", 5),  # relative
        rec(CWD + "/notes.txt", "f", 2**60),  # absurd size
        rec(CWD + "/notes.txt", "q", 5),  # unknown kind
    ]
    got = _answer(fwd, ask_id, FACTS[:2] + hostile)
    assert got[0] == "ok" and "notes.txt is not there" in got[2], got
    replies = [_ask(fwd, "drop the notes")[:2] for _ in range(30)]
    assert ["error", "busy"] in replies, replies


def test_a_forward_closes_with_its_owner_request(daemon_env, fake):
    with fake_shell() as owner:
        reply = client.request({"op": "forward", "owner": str(owner)})
    assert os.path.exists(reply["socket"])
    assert client.request({"op": "unforward", "id": reply["id"]})["closed"] is True
    assert not os.path.exists(reply["socket"])
    assert client.request({"op": "forward"})["ok"] is False
    assert protocol.decode_request(protocol.encode_request({"op": "unforward", "id": "x"}))["op"] == "unforward"


def test_a_request_out_of_the_file_tools_reach_is_said_and_no_model_is_asked(fwd, fake):
    before = len(fake.requests)
    got = _ask(fwd, "use git to commit my changes")
    assert got[:2] == ["error", "out_of_reach"] and "run git yourself" in got[2], got
    assert len(fake.requests) == before
