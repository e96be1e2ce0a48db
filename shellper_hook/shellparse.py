"""One shell command line, read as bash reads it (py-tree-sitter and tree-sitter-bash).

A general model answers with one free-form command line; before it reaches the
prompt, general_policy.py judges what this module says the line *does*: the
simple commands that can run, each with its words as the program will receive
them. Nothing is run or expanded: a word the shell would expand is marked
dynamic, never guessed. Imported only when a general model is set (never by
the client): tree_sitter is loaded at the first parse.

API
---
parse(line: str) -> Parsed

Parsed
    ok: bool         False when the line cannot be judged: a syntax error or a missing
                     token anywhere (also inside a `bash -c '...'` string), a construct
                     this module does not know, longer than MAX_LINE characters, or nested
                     deeper than the limits. Fail closed: a Parsed that is not ok has no commands.
    reason: str      one line saying why it is not ok ("" when ok)
    commands: list[Command]  every simple command that can run, in source order, after
                     unwrapping (the commands inside $( ), <( ) and bash -c strings too)
    functions: dict[str, Function]  the functions the line defines
    features: dict[str, str]  constructs met (a name from FEATURES -> its first text), for
                     the notes on how zsh and fish read the line
    comments: list[str]  the comments' text: never judged, never an excuse

Command
    words: list[Word]        the argv after unwrapping; words[0] is the program
    name: str (property)     the program's base name ("" when words[0] is not literal or absent)
    redirects: list[Redirect]  its own and those of the groups, subshells and wrappers around it
    assignments: list[tuple[str, Word]]  NAME=VALUE before it (and env's)
    wrappers: tuple[str, ...]  what was unwrapped to reach it, outermost first: "sudo", "doas",
                             "pkexec", "env", "nice", "nohup", "timeout", "time", "command", "builtin",
                             "exec", "stdbuf", "setsid", "ionice", "xargs", "find -exec", "bash -c" (the
                             shell's name), "bash (stdin)" (code a shell reads from a here-doc, a
                             here-string or an echo), "eval", "su -c", "env -S", "watch", "trap",
                             "alias", "PROMPT_COMMAND", "ssh HOST" (it runs on HOST), "$( )", "<( )", ">( )"
    position, stages: int    its place in its pipeline (0 and 1 when not piped)
    upstream: tuple[Command, ...]  the commands whose output can reach its stdin (earlier stages,
                             a `< <(...)` or `<<< "$(...)"`, a wrapper's stdin)
    piped_from: str (property)  the program of the stage just before it ("" when none)
    stdin_text: str | None   its stdin when the line spells it out (a literal here-doc or
                             here-string, `echo 'x' |`, `printf 'x' |`)
    background: bool         ends in & (or is inside something that does)
    function: str            the function whose body holds it ("" outside one)
    depth: int               0 on the typed line, 1 inside one `bash -c '...'`, ...
    code: Word | None        code it runs that shellper cannot read (`bash -c "$x"`,
                             `eval "$(...)"`, a here-doc with expansions fed to a shell)
    find_starts: tuple[Word, ...]  for find and the commands of its -exec: where find starts
    find_deletes: bool       find ... -delete (removes whatever find matches)

Word
    text: str         after quote removal; exactly what the program gets when literal;
                      otherwise the literal parts with each expansion as written ($X, *)
    literal: bool     False for any expansion or substitution: $VAR, ${..}, $(..), `..`,
                      unquoted * ? [..], ~user, {a,b}, $((..)), <(..), words read from stdin
    home: str | None  the word starts with the user's home (~, ~/.., $HOME, ${HOME}): what
                      follows it ("" or "/..."; None otherwise, or when that holds an
                      expansion). `~` and `~/x` stay literal (text keeps the ~); $HOME
                      makes the word dynamic
    dynamic: tuple[str, ...]  why it is not literal ("variable", "command substitution",
                      "glob", "brace expansion", "arithmetic", "process substitution",
                      "~user", "found by find", "from stdin": an xargs argument, whose text
                      is the item an upstream echo spells, or, with "unseen", not known)
    subs: tuple[Command, ...]  the commands whose output becomes part of it
    raw: str          as written in the line

Redirect: op (">", ">>", "<", "&>", "&>>", ">&", "<&", ">|", "<<", "<<-", "<<<", ...),
    fd (the number written before it, or None), target (a Word; None for here-docs and
    closes), body (a here-doc's or here-string's text as a Word, else None)

Function: name, commands (the commands of its body)

UNWRAPPED: sudo and doas (their options, sudo's VAR=value), env (-i, -u NAME, -C DIR,
NAME=VALUE, -S STRING as code), nice, nohup, timeout (options and DURATION), time (-p,
-f, -o), command (-p; -v/-V only look up, so they stay), builtin, exec (-a NAME, -c, -l),
stdbuf, setsid, ionice, coproc, busybox, xargs (its command's arguments come from stdin:
dynamic words, read from the line when an upstream echo spells them), find's -exec,
-execdir, -ok and -okdir, the -c string of sh, bash, zsh, dash, ksh, mksh and fish, su -c,
eval, watch, trap, alias, PROMPT_COMMAND= and env -S when literal (parsed again, up to MAX_CODE_DEPTH deep), the
command of ssh HOST COMMAND (parsed again, under "ssh HOST": it runs on HOST), a
shell reading a literal here-doc, here-string or echo on its stdin, command-position
assignments, subshells, groups, if/while/until/for/case bodies and function bodies.
"""

from __future__ import annotations

import re
import shlex
import threading
from dataclasses import dataclass, field, replace

MAX_LINE = 4000  # characters: a longer line is not judged
MAX_CODE_DEPTH = 3  # bash -c inside bash -c ...: deeper is not judged
MAX_NEST = 150  # syntax nesting, counted over every level of code
MAX_CODE_CHARS = 4 * MAX_LINE  # all the code parsed for one line, nested strings included
MAX_STDIN_ITEMS = 64  # xargs items read from an upstream echo

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ksh93", "mksh", "ash", "yash", "posh", "rbash", "fish"})

# The names general_policy reads for the shell notes (zsh and fish read these differently).
FEATURES = (
    "here-doc",
    "here-string",
    "arithmetic expansion",
    "arithmetic command",
    "process substitution",
    "backticks",
    "command substitution",
    "braced variable",
    "special variable",
    "ansi-c string",
    "translated string",
    "[[ ]]",
    "function definition",
    "subshell",
    "group",
    "if",
    "loop",
    "case",
    "assignment",
    "assignment prefix",
    "&&",
    "||",
    "|&",
    ">|",
    "negation",
    "unquoted variable",
    "unquoted glob",
    "question glob",
    "equals word",
    "history",
    "comment",
    "backslash in single quotes",
    "echo escape",
    "declaration",
    "unset",
    "array subscript",
    "array",
    "assigns HOME",
)


class _Fail(Exception):
    """The line cannot be judged: reason says why, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class Word:
    text: str
    literal: bool
    raw: str = ""
    home: str | None = None
    dynamic: tuple = ()
    subs: tuple = ()

    def __repr__(self) -> str:
        return f"Word({self.text!r}{'' if self.literal else ', dynamic=' + repr(self.dynamic)}{'' if self.home is None else ', home'})"


@dataclass(eq=False)
class Redirect:
    op: str
    fd: int | None = None
    target: Word | None = None
    body: Word | None = None


@dataclass(eq=False)
class Command:
    words: list
    redirects: list = field(default_factory=list)
    assignments: list = field(default_factory=list)
    wrappers: tuple = ()
    position: int = 0
    stages: int = 1
    upstream: tuple = ()
    stdin_text: str | None = None
    background: bool = False
    function: str = ""
    depth: int = 0
    code: Word | None = None
    find_starts: tuple = ()
    find_deletes: bool = False

    @property
    def name(self) -> str:
        if not self.words or not self.words[0].literal:
            return ""
        return program_name(self.words[0].text)

    @property
    def piped_from(self) -> str:
        return self.upstream[-1].name if self.upstream else ""

    def __repr__(self) -> str:
        return f"Command({[w.text for w in self.words]!r}, wrappers={self.wrappers!r})"


@dataclass(eq=False)
class Function:
    name: str
    commands: list = field(default_factory=list)


@dataclass(eq=False)
class Parsed:
    ok: bool
    reason: str = ""
    commands: list = field(default_factory=list)
    functions: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)
    comments: list = field(default_factory=list)


def program_name(text: str) -> str:
    """The base name a program word runs (/usr/bin/rm -> rm)."""
    return text.rstrip("/").rsplit("/", 1)[-1] if "/" in text.rstrip("/") else text


def parse(line: str) -> Parsed:
    """The simple commands line runs, or ok=False with a one-line reason (see the module docstring)."""
    if not isinstance(line, str):
        return Parsed(False, "the command is not text")
    if len(line) > MAX_LINE:
        return Parsed(False, f"the command is {len(line):,} characters long; shellper judges at most {MAX_LINE:,}")
    state = _State()
    try:
        _parse_code(line, _Scope(), state)
    except _Fail as exc:
        return Parsed(False, exc.reason)
    return Parsed(True, "", state.commands, state.functions, state.features, state.comments)


# ---------------------------------------------------------------- the walk


_LOCAL = threading.local()  # a tree-sitter Parser is not to be shared between threads


def _parser():
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        import tree_sitter
        import tree_sitter_bash

        parser = _LOCAL.parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
    return parser


class _State:
    """What one parse collects, and the budgets it spends."""

    def __init__(self) -> None:
        self.commands: list = []
        self.functions: dict = {}
        self.features: dict = {}
        self.comments: list = []
        self.chars = 0
        self.nest = 0

    def feature(self, name: str, text: str) -> None:
        self.features.setdefault(name, text[:60])


@dataclass(frozen=True)
class _Scope:
    """Where a statement runs: what it inherits from around it."""

    src: bytes = b""
    depth: int = 0
    wrappers: tuple = ()
    background: bool = False
    function: str = ""
    upstream: tuple = ()
    stdin_text: str | None = None
    redirects: tuple = ()
    position: int = 0
    stages: int = 1


def _parse_code(text: str, scope: _Scope, state: _State) -> None:
    """Parse text (the line, or a string run as code) and walk it."""
    if scope.depth > MAX_CODE_DEPTH:
        raise _Fail(f"code inside code is nested more than {MAX_CODE_DEPTH} levels deep")
    state.chars += len(text)
    if state.chars > MAX_CODE_CHARS:
        raise _Fail("the command holds too much nested code")
    if "\x00" in text:
        raise _Fail("the command contains a NUL byte")
    try:
        src = text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Fail("the command contains an invalid character") from None
    root = _parser().parse(src).root_node
    if root.has_error:
        raise _Fail(_error_reason(root, src))
    _statements(root, replace(scope, src=src), state)


def _error_reason(root, src: bytes) -> str:
    """Where the first syntax error or missing token is (an iterative search: no recursion)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing:
            return f"'{node.type}' is missing"
        if node.is_error:
            near = src[node.start_byte : node.end_byte].decode("utf-8", "replace").strip()
            near = near if len(near) <= 30 else near[:27] + "..."
            return f"a syntax error near '{near}'" if near else "a syntax error"
        if node.has_error:
            stack.extend(reversed(node.children))
    return "a syntax error"


class _Nest:
    """Counts syntax nesting across all levels, so deep input is refused before Python's own limit."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def __enter__(self):
        self.state.nest += 1
        if self.state.nest > MAX_NEST:
            raise _Fail("the command is nested too deeply")

    def __exit__(self, *exc) -> None:
        self.state.nest -= 1


def _text(node, scope: _Scope) -> str:
    return scope.src[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")


_STATEMENT_TOKENS = {
    "program": {";", "&"},
    "compound_statement": {"{", "}", ";", "&"},
    "subshell": {"(", ")", ";", "&"},
    "do_group": {"do", "done", ";", "&"},
    "if_statement": {"if", "then", "fi", ";", "&"},
    "elif_clause": {"elif", "then", ";", "&"},
    "else_clause": {"else", ";", "&"},
    "while_statement": {"while", "until", ";", "&"},
    "command_substitution": {"$(", ")", "`", "$`", ";", "&"},
    "process_substitution": {"<(", ">(", ")", ";", "&"},
    "case_item": {")", ";;", ";&", ";;&", "|", "(", ";", "&"},
}
_WORD_TYPES = {
    "word",
    "string",
    "raw_string",
    "ansi_c_string",
    "translated_string",
    "concatenation",
    "simple_expansion",
    "expansion",
    "command_substitution",
    "process_substitution",
    "arithmetic_expansion",
    "brace_expression",
    "number",
}
_REDIRECT_TYPES = {"file_redirect", "heredoc_redirect", "herestring_redirect"}


def _statements(node, scope: _Scope, state: _State) -> None:
    """The statements among node's children, each backgrounded when an & follows it."""
    allowed = _STATEMENT_TOKENS.get(node.type, {";", "&"})
    kids = node.children
    for i, kid in enumerate(kids):
        if not kid.is_named:
            if kid.type not in allowed:
                raise _Fail(f"'{kid.type}' is out of place")
            continue
        if node.type == "case_item" and (kid.type in _WORD_TYPES or kid.type == "extglob_pattern"):
            _run_substitutions(kid, scope, state)  # a pattern: only its substitutions run
            continue
        amp = i + 1 < len(kids) and kids[i + 1].type == "&"
        _statement(kid, replace(scope, background=scope.background or amp) if amp else scope, state)


def _statement(node, scope: _Scope, state: _State) -> None:
    with _Nest(state):
        handler = _STATEMENT_HANDLERS.get(node.type)
        if handler is None:
            raise _Fail(f"the command uses {node.type.replace('_', ' ')}, which shellper does not judge")
        handler(node, scope, state)


def _st_comment(node, scope, state) -> None:
    state.comments.append(_text(node, scope))
    state.feature("comment", _text(node, scope))


def _st_block(node, scope, state) -> None:
    if node.type == "compound_statement" and node.children and node.children[0].type == "((":
        state.feature("arithmetic command", _text(node, scope))
        _run_substitutions(node, scope, state)
        return
    if node.type in ("compound_statement", "subshell"):
        state.feature("group" if node.type == "compound_statement" else "subshell", _text(node, scope))
    elif node.type == "if_statement":
        state.feature("if", _text(node, scope))
    elif node.type == "while_statement":
        state.feature("loop", _text(node, scope))
    _statements(node, scope, state)


def _st_for(node, scope, state) -> None:
    state.feature("loop", _text(node, scope))
    for kid in node.children:
        if kid.type == "do_group":
            _statements(kid, scope, state)
        elif kid.is_named and kid.type != "variable_name":
            _run_substitutions(kid, scope, state)  # the list it loops over (or the (( )) parts)


def _st_case(node, scope, state) -> None:
    state.feature("case", _text(node, scope))
    for kid in node.children:
        if kid.type == "case_item":
            _statements(kid, scope, state)
        elif kid.is_named:
            _run_substitutions(kid, scope, state)
        elif kid.type not in ("case", "in", "esac", ";", ";;"):
            raise _Fail(f"'{kid.type}' is out of place")


def _st_negated(node, scope, state) -> None:
    state.feature("negation", _text(node, scope))
    for kid in node.named_children:
        _statement(kid, scope, state)


def _st_test(node, scope, state) -> None:
    if node.children and node.children[0].type == "[[":
        state.feature("[[ ]]", _text(node, scope))
    _run_substitutions(node, scope, state)


def _st_list(node, scope, state) -> None:
    """a && b || c: tree-sitter nests these to the left; walked as a flat sequence."""
    chain = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type == "list":
            stack.extend(reversed(cur.children))
        else:
            chain.append(cur)
    for kid in chain:
        if kid.is_named:
            _statement(kid, scope, state)
        elif kid.type in ("&&", "||"):
            state.feature(kid.type, _text(node, scope))
        else:
            raise _Fail(f"'{kid.type}' is out of place")


def _st_pipeline(node, scope, state) -> None:
    stages = []
    for kid in node.children:
        if kid.is_named:
            stages.append((kid, ()))
        elif kid.type == "|&":
            state.feature("|&", _text(node, scope))
        elif kid.type != "|":
            raise _Fail(f"'{kid.type}' is out of place")
    _pipe(stages, scope, state)


def _pipe(stages: list, scope: _Scope, state: _State) -> None:
    """Walk the stages of one pipeline: each reads what the ones before it write."""
    upstream: tuple = scope.upstream  # a stage reads what every stage before it wrote (cat passes it on)
    text = scope.stdin_text
    for i, (node, redirects) in enumerate(stages):
        start = len(state.commands)
        sub = replace(scope, position=i, stages=len(stages), upstream=upstream, stdin_text=text)
        if node is None or redirects:
            _redirected_body(node, redirects, sub, state)
        else:
            _statement(node, sub, state)
        made = tuple(state.commands[start:])
        upstream += made
        text = _output_text(made)


def _output_text(made: tuple) -> str | None:
    """What a stage writes, when the line spells it out: echo and printf of literal words,
    cat and tee passing on a known stdin (so `echo 'rm -rf /' | sh` is read as code)."""
    if len(made) != 1:
        return None
    cmd = made[0]
    args = cmd.words[1:]
    if not all(w.literal for w in args) or any(
        r.op not in ("<<", "<<-", "<<<") and r.body is None and r.fd in (None, 0, 1) for r in cmd.redirects
    ):
        return None  # its own input or output redirected: not what the line spells
    name = cmd.name
    if name in ("cat", "tee"):
        if name == "cat" and any(not w.text.startswith("-") for w in args):
            return None
        return cmd.stdin_text
    if name == "echo":
        texts = [w.text for w in args]
        escapes = False
        while texts and re.fullmatch(r"-[neE]+", texts[0]):
            escapes = escapes or "e" in texts[0]
            texts.pop(0)
        out = " ".join(texts) + "\n"
        return _c_escapes(out) if escapes else out
    if name == "printf" and args:
        fmt = args[0].text
        if fmt in ("%s", "%s\\n", "%b", "%b\\n"):
            out = "\n".join(w.text for w in args[1:]) if fmt.endswith("n") else "".join(w.text for w in args[1:])
            return _c_escapes(out) if fmt.startswith("%b") else out
        if "%" not in fmt.replace("%%", ""):
            return _c_escapes(fmt.replace("%%", "%"))
    return None


def _st_redirected(node, scope, state) -> None:
    body = node.child_by_field_name("body")
    redirects = []
    for kid in node.children:
        if body is not None and kid.start_byte == body.start_byte and kid.type == body.type:
            continue
        if kid.type in _REDIRECT_TYPES:
            redirects.append(kid)
        elif kid.type == "comment":
            _st_comment(kid, scope, state)
        else:
            raise _Fail(f"'{_text(kid, scope)[:20]}' is out of place")
    # A here-doc's first line can go on (`cat <<EOF | sh`): tree-sitter puts the rest inside it.
    rest = []
    for redirect in redirects:
        if redirect.type == "heredoc_redirect":
            rest += _heredoc_rest(redirect, scope)
    if rest and rest[0][0] in ("|", "|&"):
        stages = [(body, tuple(redirects))]
        _op, pipeline = rest.pop(0)
        stages += [(kid, ()) for kid in pipeline.named_children]
        _pipe(stages, scope, state)
    else:
        _redirected_body(body, tuple(redirects), scope, state)
    for op, stmt in rest:
        if op in ("|", "|&"):
            raise _Fail("a here-doc is followed by a pipe shellper cannot place")
        if op in ("&&", "||"):
            state.feature(op, op)
        _statement(stmt, scope, state)


def _heredoc_rest(node, scope: _Scope) -> list:
    """[(operator, statement node)] that tree-sitter placed inside a here-doc redirect."""
    out = []
    op = None
    for kid in node.children:
        if kid.type in ("&&", "||", ";", "|", "|&"):
            op = kid.type
        elif kid.type == "pipeline" and kid.children and kid.children[0].type in ("|", "|&"):
            out.append((kid.children[0].type, kid))
        elif kid.is_named and kid.type not in ("heredoc_start", "heredoc_body", "heredoc_end", "file_redirect", "comment"):
            if op is None:
                raise _Fail(f"'{_text(kid, scope)[:20]}' is out of place after a here-doc")
            out.append((op, kid))
            op = None
    return out


def _redirected_body(body, redirect_nodes: tuple, scope: _Scope, state: _State) -> None:
    """A statement with redirections: a simple command takes them as its own; anything
    else (a group, a loop, a pipeline) passes them on to every command inside."""
    if body is not None and body.type == "command":
        _command(body, scope, state, redirect_nodes)
        return
    redirects, words, stdin = _redirects(redirect_nodes, scope, state)
    if words:
        raise _Fail(f"shellper cannot tell which command gets '{words[0].raw}'")
    inner = _stdin_scope(replace(scope, redirects=scope.redirects + tuple(redirects)), redirects, stdin)
    if body is None:  # `> file` on its own: a write with no command
        _emit(state, inner, [], [], list(inner.redirects), inner.wrappers)
        return
    _statement(body, inner, state)


def _st_function(node, scope, state) -> None:
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name_node is None or body is None:
        raise _Fail("a function without a name or body")
    name = _text(name_node, scope)
    state.feature("function definition", _text(node, scope))
    start = len(state.commands)
    inner = replace(scope, function=name, background=False, upstream=(), stdin_text=None, position=0, stages=1)
    _statement(body, inner, state)
    state.functions.setdefault(name, Function(name)).commands.extend(state.commands[start:])


def _st_declaration(node, scope, state) -> None:
    """export/local/declare/readonly/typeset and unset: builtins, judged as commands."""
    keyword = node.children[0].type if node.children else ""
    state.feature("unset" if node.type == "unset_command" else "declaration", _text(node, scope))
    words, assigns = [Word(keyword, True, keyword)], []
    for kid in node.children[1:]:
        if kid.type == "variable_assignment":
            assigns.append(_assignment(kid, scope, state))
        elif kid.type == "variable_name":
            words.append(Word(_text(kid, scope), True, _text(kid, scope)))
        elif kid.type in _WORD_TYPES:
            words.append(_word([kid], scope, state))
        elif kid.type == "comment":
            _st_comment(kid, scope, state)
        else:
            raise _Fail(f"'{_text(kid, scope)[:20]}' is out of place")
    for name, value in assigns:
        _shell_variable(name, value, _text(node, scope), scope, state)
    _emit(state, scope, words, assigns, list(scope.redirects), scope.wrappers)


def _st_assignment(node, scope, state) -> None:
    """X=1 on its own sets a shell variable: nothing runs but its substitutions (and
    PROMPT_COMMAND's code, at every prompt after)."""
    state.feature("assignment", _text(node, scope))
    kids = node.named_children if node.type == "variable_assignments" else [node]
    for kid in kids:
        if kid.type != "variable_assignment":
            raise _Fail(f"'{_text(kid, scope)[:20]}' is out of place")
        name, value = _assignment(kid, scope, state)
        _shell_variable(name, value, _text(kid, scope), scope, state)


def _shell_variable(name: str, value: Word, text: str, scope: _Scope, state: _State) -> None:
    if name == "HOME":
        state.feature("assigns HOME", text)
    elif name == "PROMPT_COMMAND":
        _run_code(value, "PROMPT_COMMAND", [Word(name, True, name)], [], [], scope, state)


def _st_bare_redirect(node, scope, state) -> None:
    """A redirect where a statement goes: `$(< file)`, or `> file` on its own."""
    _redirected_body(None, (node,), scope, state)


# ---------------------------------------------------------------- simple commands


def _command(node, scope: _Scope, state: _State, outer_redirects: tuple = ()) -> None:
    assigns, groups, redirect_nodes = [], [], list(outer_redirects)
    named = False
    last_end = None
    for kid in node.children:
        if kid.type == "variable_assignment" and not named:
            assigns.append(_assignment(kid, scope, state))
            continue
        if kid.type in _REDIRECT_TYPES:
            redirect_nodes.append(kid)
            last_end = None
            continue
        if kid.type == "comment":
            _st_comment(kid, scope, state)
            last_end = None
            continue
        parts = kid.children if kid.type == "command_name" else [kid]
        named = named or kid.type == "command_name"
        for part in parts:
            if last_end is not None and _adjacent(last_end, part.start_byte, scope):
                groups[-1].append(part)
            else:
                groups.append([part])
            last_end = part.end_byte
    if assigns:
        state.feature("assignment prefix", _text(node, scope))
    words = [_word(group, scope, state) for group in groups]
    redirects, extra, stdin = _redirects(tuple(redirect_nodes), scope, state)
    words += extra
    if any(name == "HOME" for name, _ in assigns):
        state.feature("assigns HOME", _text(node, scope))
    inner = _stdin_scope(scope, redirects, stdin)
    _run(words, assigns, list(scope.redirects) + redirects, inner, state)


def _adjacent(end: int, start: int, scope: _Scope) -> bool:
    """Whether two pieces are one word: nothing between them but line continuations."""
    return end == start or re.fullmatch(rb"(?:\\\n)+", scope.src[end:start]) is not None


def _stdin_scope(scope: _Scope, redirects: list, stdin) -> _Scope:
    """The scope after a command's own input redirections: a here-doc or here-string gives
    the text of its stdin (when literal), a `< file` replaces what a pipe would give."""
    if stdin is None:
        return scope
    kind, word = stdin
    if kind == "file":
        return replace(scope, stdin_text=None, upstream=tuple(word.subs) if word is not None else ())
    return replace(scope, stdin_text=word.text if word.literal else None, upstream=tuple(word.subs))


def _redirects(nodes: tuple, scope: _Scope, state: _State):
    """(redirects, words a redirect node swallowed that are arguments, the last stdin source)."""
    out, extra, stdin = [], [], None
    for node in nodes:
        if node.type == "heredoc_redirect":
            redirect = _heredoc(node, scope, state)
            for kid in node.children:
                if kid.type == "file_redirect":
                    more, words, _ = _redirects((kid,), scope, state)
                    out += more
                    extra += words
        elif node.type == "herestring_redirect":
            state.feature("here-string", _text(node, scope))
            value = [k for k in node.children if k.is_named and k.type != "file_descriptor"]
            body = _word(value, scope, state) if value else Word("", True)
            body = replace(body, text=body.text + "\n")
            redirect = Redirect("<<<", _fd(node, scope), None, body)
        else:
            redirect, words = _file_redirect(node, scope, state)
            extra += words
        out.append(redirect)
        if redirect.fd in (None, 0) and redirect.op in ("<", "<<", "<<-", "<<<", "<&"):
            stdin = ("file", redirect.target) if redirect.body is None else ("text", redirect.body)
    return out, extra, stdin


def _fd(node, scope: _Scope) -> int | None:
    for kid in node.children:
        if kid.type == "file_descriptor":
            text = _text(kid, scope)
            return int(text) if text.isdigit() else None
    return None


def _file_redirect(node, scope: _Scope, state: _State):
    op = ""
    groups: list = []
    last_end = None
    for kid in node.children:
        if kid.type == "file_descriptor":
            continue
        if not kid.is_named and not op:
            op = kid.type
            continue
        if last_end is not None and _adjacent(last_end, kid.start_byte, scope):
            groups[-1].append(kid)
        else:
            groups.append([kid])
        last_end = kid.end_byte
    if op == ">|":
        state.feature(">|", _text(node, scope))
    words = [_word(g, scope, state) for g in groups]
    target = words[0] if words else None
    return Redirect(op, _fd(node, scope), target, None), words[1:]


def _heredoc(node, scope: _Scope, state: _State) -> Redirect:
    state.feature("here-doc", _text(node, scope))
    op = node.children[0].type if node.children else "<<"
    start = next((k for k in node.children if k.type == "heredoc_start"), None)
    body = next((k for k in node.children if k.type == "heredoc_body"), None)
    quoted = start is not None and any(c in _text(start, scope) for c in "'\"\\")
    if body is None:
        word = Word("", True)
    elif quoted:
        word = Word(_text(body, scope), True, _text(body, scope))
    else:
        parts: list = []
        subs: list = []
        _string_parts(body, scope, state, parts, subs, '"', skip_quotes=False)
        word = _finish(parts, _text(body, scope), subs, state)
    if op == "<<-":
        word = replace(word, text=re.sub(r"(?m)^\t+", "", word.text))
    return Redirect(op, _fd(node, scope), None, word)


def _assignment(node, scope: _Scope, state: _State):
    name = ""
    value = []
    seen_eq = False
    for kid in node.children:
        if not seen_eq:
            if kid.type in ("=", "+="):
                seen_eq = True
            elif kid.type in ("variable_name", "subscript"):
                name = _text(kid, scope)
            continue
        value.append(kid)
    word = _word(value, scope, state) if value else Word("", True)
    return name, word


def _emit(state: _State, scope: _Scope, words, assigns, redirects, wrappers, **extra) -> Command:
    cmd = Command(
        words=list(words),
        redirects=list(redirects),
        assignments=list(assigns),
        wrappers=tuple(wrappers),
        position=scope.position,
        stages=scope.stages,
        upstream=scope.upstream,
        stdin_text=scope.stdin_text,
        background=scope.background,
        function=scope.function,
        depth=scope.depth,
        **extra,
    )
    state.commands.append(cmd)
    return cmd


# ---------------------------------------------------------------- words


class _Part:
    """A piece of a word: literal text with how it was quoted ("", "'", '"', "\\"), or
    an expansion (kind set, text as written)."""

    __slots__ = ("text", "quote", "kind", "var")

    def __init__(self, text: str, quote: str = "", kind: str | None = None, var: str = "") -> None:
        self.text, self.quote, self.kind, self.var = text, quote, kind, var


def _word(nodes: list, scope: _Scope, state: _State) -> Word:
    """One word from adjacent pieces, quotes removed, expansions marked."""
    parts: list = []
    subs: list = []
    with _Nest(state):
        for node in _translated(nodes, scope, state):
            _parts(node, scope, state, parts, subs, "")
    raw = _text(nodes[0], scope) if len(nodes) == 1 else scope.src[nodes[0].start_byte : nodes[-1].end_byte].decode("utf-8", "replace")
    return _finish(parts, raw, subs, state)


def _parts(node, scope: _Scope, state: _State, parts: list, subs: list, quote: str) -> None:
    t = node.type
    text = _text(node, scope)
    if t == "word" or t == "extglob_pattern":
        _unquoted(text, parts)
    elif t in ("number", "variable_name", "special_variable_name"):
        parts.append(_Part(text, quote))
    elif not node.is_named:
        parts.append(_Part(text, quote))  # a stray token such as the $ of $"..."
    elif t == "raw_string":
        if re.search(r"\\(?:\\|$)", text[1:-1]):  # fish reads \\ and \' inside single quotes as escapes
            state.feature("backslash in single quotes", text)
        parts.append(_Part(text[1:-1], "'"))
    elif t == "ansi_c_string":
        state.feature("ansi-c string", text)
        parts.append(_Part(_c_escapes(text[2:-1], ansi=True), "'"))
    elif t in ("string", "translated_string"):
        if t == "translated_string":
            state.feature("translated string", text)
        _string_parts(node, scope, state, parts, subs, '"')
    elif t == "concatenation":
        for kid in _translated(node.children, scope, state):
            _parts(kid, scope, state, parts, subs, quote)
    else:
        _expansion_part(node, text, scope, state, parts, subs, quote)


def _expansion_part(node, text: str, scope: _Scope, state: _State, parts: list, subs: list, quote: str) -> None:
    t = node.type
    if t == "simple_expansion":
        var = text[1:]
        if node.named_children and node.named_children[0].type == "special_variable_name" or var.isdigit():
            state.feature("special variable", text)
        if not quote:
            state.feature("unquoted variable", text)
        parts.append(_Part(text, quote, "variable", var))
    elif t == "expansion":
        state.feature("braced variable", text)
        if any(k.type == "subscript" for k in node.named_children):
            state.feature("array subscript", text)
        if not quote:
            state.feature("unquoted variable", text)
        subs += _run_substitutions(node, scope, state, skip_self=True)
        var = text[2:-1] if re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", text) else ""
        parts.append(_Part(text, quote, "variable", var))
    elif t == "command_substitution":
        state.feature("backticks" if text.startswith(("`", "$`")) else "command substitution", text)
        subs += _substitution(node, "$( )", scope, state)
        parts.append(_Part(text, quote, "command substitution"))
    elif t == "process_substitution":
        state.feature("process substitution", text)
        subs += _substitution(node, text[:2] + " )", scope, state)
        parts.append(_Part(text, quote, "process substitution"))
    elif t == "arithmetic_expansion":
        state.feature("arithmetic expansion", text)
        subs += _run_substitutions(node, scope, state, skip_self=True)
        parts.append(_Part(text, quote, "arithmetic"))
    elif t == "brace_expression":
        parts.append(_Part(text, quote, "brace expansion"))
    elif t == "array":
        state.feature("array", text)
        subs += _run_substitutions(node, scope, state, skip_self=True)
        parts.append(_Part(text, quote, "array"))
    else:
        raise _Fail(f"the command uses {t.replace('_', ' ')}, which shellper does not judge")


def _translated(nodes: list, scope: _Scope, state: _State) -> list:
    """The pieces of a word, with the $ of $"..." dropped: tree-sitter reads it as a token of its
    own, but bash's $"/" is the string "/" (translated; in the C locale unchanged)."""
    out = []
    for i, node in enumerate(nodes):
        after = nodes[i + 1] if i + 1 < len(nodes) else None
        if node.type == "$" and not node.is_named and after is not None and after.type == "string" and after.start_byte == node.end_byte:
            state.feature("translated string", _text(node, scope) + _text(after, scope))
            continue
        out.append(node)
    return out


def _unquoted(text: str, parts: list) -> None:
    """An unquoted piece: a backslash quotes the next character; backslash-newline is nothing."""
    i = 0
    buf = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            if buf:
                parts.append(_Part("".join(buf)))
                buf = []
            if text[i + 1] != "\n":
                parts.append(_Part(text[i + 1], "\\"))
            i += 2
            continue
        buf.append(ch)
        i += 1
    if buf:
        parts.append(_Part("".join(buf)))


_DQ_ESCAPES = re.compile(r"\\([$`\"\\\n])")


def _string_parts(node, scope: _Scope, state: _State, parts: list, subs: list, quote: str, skip_quotes: bool = True) -> None:
    """A double-quoted string (or an unquoted here-doc's body): literal text between its
    expansions, where a backslash quotes only $ ` " \\ and a newline."""
    kids = node.children
    if skip_quotes:
        kids = [k for k in kids if k.type != '"']
        pos = node.start_byte + 1 if _text(node, scope).startswith('"') else node.start_byte + 2  # " or $"
        end = node.end_byte - 1
    else:
        pos, end = node.start_byte, node.end_byte
    for kid in kids:
        if kid.start_byte > pos:
            _dq_literal(scope.src[pos : kid.start_byte].decode("utf-8", "surrogateescape"), parts, quote)
        if kid.type in ("string_content", "heredoc_content") or not kid.is_named:
            _dq_literal(_text(kid, scope), parts, quote)
        else:
            _parts(kid, scope, state, parts, subs, quote)
        pos = max(pos, kid.end_byte)
    if end > pos:
        _dq_literal(scope.src[pos:end].decode("utf-8", "surrogateescape"), parts, quote)


def _dq_literal(text: str, parts: list, quote: str) -> None:
    parts.append(_Part(_DQ_ESCAPES.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text), quote))


_GLOB_CLASS = re.compile(r"\[[^\]]*\]")
_BRACE = re.compile(r"\{[^{}]*(?:,|\.\.)[^{}]*\}")


def _finish(parts: list, raw: str, subs: list, state: _State) -> Word:
    """The Word of parts: its text, whether the shell leaves it as it is, and whether it starts at home."""
    text = "".join(p.text for p in parts)
    dynamic = [p.kind for p in parts if p.kind]
    # The unquoted characters only: quoted ones become \0, expansions \1.
    view = "".join(p.text if not p.kind and not p.quote else ("\x00" * len(p.text) if not p.kind else "\x01") for p in parts)
    if "*" in view or "?" in view or _GLOB_CLASS.search(view):
        dynamic.append("glob")
        state.feature("unquoted glob", raw)
        if "?" in view:
            state.feature("question glob", raw)
    if _BRACE.search(view):
        dynamic.append("brace expansion")
    if len(view) > 1 and view[0] == "=" and (view[1].isalnum() or view[1] in "_-"):
        state.feature("equals word", raw)
    _history(parts, raw, state)
    home = None
    readable = not any(p.kind for p in parts[1:])  # what follows home holds no expansion (wildcards aside)
    if view.startswith("~"):
        rest = text[1:]
        if rest and not rest.startswith("/"):
            dynamic.append("~user")
        elif readable:
            home = rest
    elif parts and parts[0].kind == "variable" and parts[0].var == "HOME" and readable:
        rest = text[len(parts[0].text) :]
        if rest == "" or rest.startswith("/"):
            home = rest
    return Word(text, not dynamic, raw, home, tuple(dict.fromkeys(dynamic)), tuple(subs))


def _history(parts: list, raw: str, state: _State) -> None:
    """An ! that interactive bash and zsh expand from history (unquoted or in double quotes)."""
    flat = [(ch, p.quote) for p in parts if not p.kind for ch in p.text]
    for i, (ch, quote) in enumerate(flat):
        if ch == "!" and quote in ("", '"') and i + 1 < len(flat) and flat[i + 1][0] not in ' \t\n=("':
            state.feature("history", raw)
            return


_C_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b", "E": "\x1b", "\\": "\\"}


def _c_escapes(text: str, ansi: bool = False) -> str:
    """Backslash escapes as $'...' (ansi) or printf and echo -e read them."""
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 == len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _C_SIMPLE:
            out.append(_C_SIMPLE[nxt])
            i += 2
        elif ansi and nxt in "'\"?":
            out.append(nxt)
            i += 2
        elif nxt == "x":
            m = re.match(r"[0-9A-Fa-f]{1,2}", text[i + 2 :])
            out.append(chr(int(m.group(0), 16)) if m else "\\x")
            i += 2 + (len(m.group(0)) if m else 0)
        elif nxt in "uU":
            m = re.match(r"[0-9A-Fa-f]{1,4}" if nxt == "u" else r"[0-9A-Fa-f]{1,8}", text[i + 2 :])
            code = int(m.group(0), 16) if m else -1
            out.append(chr(code) if 0 <= code < 0x110000 else "\\" + nxt)
            i += 2 + (len(m.group(0)) if m else 0)
        elif nxt in "01234567":
            m = re.match(r"0?[0-7]{1,3}" if not ansi else r"[0-7]{1,3}", text[i + 1 :])
            out.append(chr(int(m.group(0), 8) & 0xFF))
            i += 1 + len(m.group(0))
        elif nxt == "c" and ansi and i + 2 < len(text):
            out.append(chr(ord(text[i + 2]) & 0x1F))
            i += 3
        else:
            out.append("\\" + nxt)
            i += 2
    return "".join(out)


def _substitution(node, label: str, scope: _Scope, state: _State) -> list:
    """Walk the commands of $( ), ` `, <( ) or >( ): they run (on the stdin of the command around
    them: `curl x | sh -c "$(cat)"` runs what curl fetched); their output becomes a word."""
    start = len(state.commands)
    inner = replace(
        scope,
        wrappers=scope.wrappers + (label,),
        position=0,
        stages=1,
        redirects=(),
        background=False,
    )
    _statements(node, inner, state)
    return state.commands[start:]


def _run_substitutions(node, scope: _Scope, state: _State, skip_self: bool = False) -> list:
    """The substitutions anywhere below node (an arithmetic, a test, a case pattern): they run."""
    found: list = []
    stack = list(reversed(node.children)) if skip_self else [node]
    with _Nest(state):
        while stack:
            cur = stack.pop()
            if cur.type == "command_substitution":
                state.feature("backticks" if _text(cur, scope).startswith("`") else "command substitution", _text(cur, scope))
                found += _substitution(cur, "$( )", scope, state)
            elif cur.type == "process_substitution":
                state.feature("process substitution", _text(cur, scope))
                found += _substitution(cur, _text(cur, scope)[:2] + " )", scope, state)
            else:
                if cur.type == "arithmetic_expansion":
                    state.feature("arithmetic expansion", _text(cur, scope))
                elif cur.type == "expansion":
                    state.feature("braced variable", _text(cur, scope))
                stack.extend(reversed(cur.children))
    return found


_STATEMENT_HANDLERS = {
    "program": _statements,
    "comment": _st_comment,
    "command": lambda node, scope, state: _command(node, scope, state),
    "pipeline": _st_pipeline,
    "list": _st_list,
    "redirected_statement": _st_redirected,
    "compound_statement": _st_block,
    "subshell": _st_block,
    "if_statement": _st_block,
    "elif_clause": _statements,
    "else_clause": _statements,
    "while_statement": _st_block,
    "do_group": _statements,
    "for_statement": _st_for,
    "c_style_for_statement": _st_for,
    "case_statement": _st_case,
    "negated_command": _st_negated,
    "test_command": _st_test,
    "function_definition": _st_function,
    "declaration_command": _st_declaration,
    "unset_command": _st_declaration,
    "variable_assignment": _st_assignment,
    "variable_assignments": _st_assignment,
    "file_redirect": _st_bare_redirect,
    "herestring_redirect": _st_bare_redirect,
}


# ---------------------------------------------------------------- unwrapping


@dataclass(frozen=True)
class _Opts:
    """How a wrapper's options read: short ones that take a value (as the next word or
    glued on), long ones that take the next word, and flags after which no command runs."""

    value: str = ""
    long_value: frozenset = frozenset()
    stop: str = ""
    long_stop: frozenset = frozenset()


_SIMPLE_WRAPPERS = {
    "sudo": _Opts(
        "uUgpCrthDRT",
        frozenset({"user", "group", "prompt", "close-from", "role", "type", "host", "chdir", "chroot", "other-user", "command-timeout"}),
        "lvkKVe",
        frozenset({"list", "validate", "edit", "version", "remove-timestamp", "reset-timestamp", "help"}),
    ),
    "doas": _Opts("uC", stop="L"),
    "pkexec": _Opts(long_value=frozenset({"user"})),
    "env": _Opts("uCP", frozenset({"unset", "chdir"})),
    "nice": _Opts("n", frozenset({"adjustment"})),
    "nohup": _Opts(),
    "timeout": _Opts("sk", frozenset({"signal", "kill-after"})),
    "time": _Opts("of", frozenset({"output", "format"})),
    "command": _Opts(stop="vV"),
    "builtin": _Opts(),
    "exec": _Opts("a"),
    "stdbuf": _Opts("ioe", frozenset({"input", "output", "error"})),
    "setsid": _Opts(),
    "ionice": _Opts("cnt", frozenset({"class", "classdata"}), "p", frozenset({"pid", "pgid", "uid"})),
    "coproc": _Opts(),
    "busybox": _Opts(),
    "caffeinate": _Opts("tw"),
    "unbuffer": _Opts(),
}


def _options(words: list, i: int, spec: _Opts):
    """(index of the first word after the options from i, whether a stop flag was met, {option: value})."""
    seen: dict = {}
    stopped = False
    while i < len(words):
        w = words[i]
        if not w.literal:
            return i, stopped, seen
        t = w.text
        if t == "--":
            return i + 1, stopped, seen
        if t.startswith("--") and len(t) > 2:
            name, eq, value = t[2:].partition("=")
            stopped = stopped or name in spec.long_stop
            if not eq and name in spec.long_value and i + 1 < len(words):
                value = words[i + 1].text
                i += 1
            seen[name] = value
            i += 1
            continue
        if t.startswith("-") and len(t) > 1:
            for j, ch in enumerate(t[1:], 1):
                stopped = stopped or ch in spec.stop
                if ch in spec.value:
                    if j == len(t) - 1 and i + 1 < len(words):
                        seen[ch] = words[i + 1].text
                        i += 1
                    else:
                        seen[ch] = t[j + 1 :]
                    break
                seen[ch] = ""
            i += 1
            continue
        return i, stopped, seen
    return i, stopped, seen


_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _run(words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> None:
    """Unwrap words (sudo, env, xargs, bash -c ...) to the command that does the work, and record it."""
    with _Nest(state):
        wrappers = scope.wrappers
        assigns = list(assigns)
        while words and words[0].literal:
            name = program_name(words[0].text)
            handler = _CODE_WRAPPERS.get(name) or (_shell if name in SHELLS else None)
            if handler is not None:
                if handler(name, words, assigns, redirects, replace(scope, wrappers=wrappers), state):
                    return
                break
            rest = _simple_wrapper(name, words, assigns, state) if name in _SIMPLE_WRAPPERS else None
            if rest is None:
                break
            wrappers += (name,)
            words = rest
        _emit(state, replace(scope, wrappers=wrappers), words, assigns, redirects, wrappers)


def _simple_wrapper(name: str, words: list, assigns: list, state: _State):
    """The words of the command a simple wrapper runs, or None when it runs none (sudo -l, command -v)."""
    spec = _SIMPLE_WRAPPERS[name]
    i, stopped, seen = _options(words, 1, spec)
    if name == "nice" and i < len(words) and re.fullmatch(r"-\d+", words[i].text or ""):
        i += 1
    if name in ("sudo", "env"):
        while i < len(words) and words[i].literal and _ASSIGN.match(words[i].text):
            key, _, value = words[i].text.partition("=")
            assigns.append((key, Word(value, True, value)))
            if key == "HOME":
                state.feature("assigns HOME", words[i].text)
            i += 1
    if name == "timeout" and i < len(words):
        i += 1  # the duration
    if name == "busybox" and i < len(words) and words[i].literal and words[i].text.startswith("-"):
        return None
    if stopped or i >= len(words):
        return None
    return words[i:]


def _code_word(words: list) -> Word:
    """Several words run as one piece of code (eval a b, watch a b): joined by spaces."""
    if len(words) == 1:
        return words[0]
    literal = all(w.literal for w in words)
    subs = tuple(c for w in words for c in w.subs)
    dynamic = tuple(dict.fromkeys(k for w in words for k in w.dynamic))
    return Word(" ".join(w.text for w in words), literal, " ".join(w.raw for w in words), None, dynamic, subs)


def _run_code(code: Word, label: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """Parse a literal code string as the commands it runs; a dynamic one is recorded with the
    command that runs it (code=...). Returns True: the wrapper is done."""
    if code.literal:
        inner = replace(scope, wrappers=scope.wrappers + (label,), depth=scope.depth + 1, redirects=tuple(redirects))
        start = len(state.commands)
        _parse_code(code.text, inner, state)
        if len(state.commands) == start and redirects:
            _emit(state, scope, words, assigns, redirects, scope.wrappers)  # no command: keep the redirections
        return True
    _emit(state, scope, words, assigns, redirects, scope.wrappers, code=code)
    return True


def _shell(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """sh/bash/zsh/... -c CODE, or reading code from stdin; a script file is left as it is."""
    i = 1
    flags = ""
    code_arg = None
    while i < len(words) and words[i].literal:
        t = words[i].text
        if t in ("--", "-"):
            i += 1 if t == "--" else 0
            break
        if t in ("--rcfile", "--init-file", "-o", "+o", "-O", "+O") or (name == "fish" and t in ("-C", "--init-command", "-d", "--debug")):
            i += 2
            continue
        if name == "fish" and (t in ("-c", "--command") or t.startswith("--command=")):
            code_arg = words[i + 1] if "=" not in t and i + 1 < len(words) else Word(t.partition("=")[2], True, t)
            break
        if t.startswith("--"):
            i += 1
            continue
        if t[:1] in "-+" and len(t) > 1:
            flags += t[1:]
            i += 1 + (1 if t[-1] in "oO" else 0)
            continue
        break
    operand = words[i] if i < len(words) else None
    if code_arg is not None or "c" in flags:
        code = code_arg if code_arg is not None else operand
        if code is None:
            return False
        return _run_code(code, f"{name} -c", words, assigns, redirects, scope, state)
    if operand is not None and not (operand.literal and operand.text == "-") and "s" not in flags:
        return False  # runs a script file: left to the policy
    body = next((r.body for r in redirects if r.body is not None and r.fd in (None, 0)), None)
    if scope.stdin_text is not None:
        return _run_code(Word(scope.stdin_text, True), f"{name} (stdin)", words, assigns, redirects, replace(scope, stdin_text=None), state)
    if body is not None and not body.literal:
        _emit(state, scope, words, assigns, redirects, scope.wrappers, code=body)
        return True
    return False


def _eval(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    if len(words) < 2:
        return False
    return _run_code(_code_word(words[1:]), "eval", words, assigns, redirects, scope, state)


def _su(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """su [options] [user] -c CODE: the code runs in the user's shell."""
    for i, w in enumerate(words[1:], 1):
        t = w.text if w.literal else ""
        if t.startswith("--command="):
            return _run_code(Word(t.partition("=")[2], True, t), "su -c", words, assigns, redirects, scope, state)
        if (t in ("--command", "--session-command") or re.fullmatch(r"-[a-zA-Z]*c", t)) and i + 1 < len(words):
            return _run_code(words[i + 1], "su -c", words, assigns, redirects, scope, state)
    return False


def _env_split(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """env -S 'STRING' splits STRING into a command: read as code; other env forms are simple."""
    for i, w in enumerate(words[1:], 1):
        t = w.text if w.literal else ""
        if t.startswith("--split-string="):
            return _run_code(
                _code_word([Word(t.partition("=")[2], True, t)] + words[i + 1 :]), "env -S", words, assigns, redirects, scope, state
            )
        if re.fullmatch(r"-[iv0]*S", t) and i + 1 < len(words):
            return _run_code(_code_word(words[i + 1 :]), "env -S", words, assigns, redirects, scope, state)
        if re.fullmatch(r"-[iv0]*S.+", t):
            return _run_code(
                _code_word([Word(t[t.index("S") + 1 :], True, t)] + words[i + 1 :]), "env -S", words, assigns, redirects, scope, state
            )
        if not t.startswith("-") or t == "--":
            break
    rest = _simple_wrapper("env", words, assigns, state)
    if rest is None:
        return False
    _run(rest, assigns, redirects, replace(scope, wrappers=scope.wrappers + ("env",)), state)
    return True


def _watch(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """watch runs its words, joined, through sh -c (unless -x)."""
    i, _stopped, seen = _options(words, 1, _Opts("nqd", frozenset({"interval", "differences"})))
    if i >= len(words):
        return False
    if "x" in seen or "exec" in seen:
        _run(words[i:], assigns, redirects, replace(scope, wrappers=scope.wrappers + ("watch",)), state)
        return True
    return _run_code(_code_word(words[i:]), "watch", words, assigns, redirects, scope, state)


def _alias(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """alias NAME='CODE': the code runs whenever NAME is typed later: judged now."""
    values = [w for w in words[1:] if "=" in w.text and not w.text.startswith("-")]
    for w in values:
        _run_code(Word(w.text.partition("=")[2], w.literal, w.raw, None, w.dynamic, w.subs), "alias", words, [], redirects, scope, state)
    return bool(values)


def _trap(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """trap 'CODE' SIGNAL...: the code runs later, on the signal or at exit."""
    args = [w for w in words[1:] if not (w.literal and w.text == "--")]
    if len(args) < 2 or (args[0].literal and args[0].text in ("-", "-p", "-l", "")):
        return False
    return _run_code(args[0], "trap", words, assigns, redirects, scope, state)


_XARGS = _Opts(
    "adEIiLlnPse",
    frozenset({"arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var", "max-lines", "eof", "replace"}),
)


def _xargs(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """xargs [options] CMD ARGS: CMD gets more arguments from stdin (dynamic words, read
    from an upstream echo when the line spells them)."""
    i, _stopped, seen = _xargs_options(words)
    inner = words[i:] or [Word("echo", True, "echo")]
    replace_str = seen.get("I") or seen.get("replace") or ("{}" if "i" in seen else None)
    from_file = "a" in seen or "arg-file" in seen
    items = None if from_file else _stdin_items(scope.stdin_text, seen)
    subs = () if from_file else tuple(scope.upstream)
    sub = replace(scope, wrappers=scope.wrappers + ("xargs",), upstream=(), stdin_text=None)
    if not replace_str:  # all the items go to one command, after its own words
        extra = [_stdin_word(None, "", item, subs) for item in items] if items else [_stdin_word(None, "", None, subs)]
        _run(inner + extra, assigns, redirects, sub, state)
        return True
    for item in items or [None]:  # one command for each item
        _run([_stdin_word(w, replace_str, item, subs) if replace_str in w.text else w for w in inner], assigns, redirects, sub, state)
    return True


def _xargs_options(words: list):
    """xargs's -e, -i and -l take a value only when glued on (-i{} -l1); the others also as the next word."""
    glued_only = "eil"
    i = 1
    seen: dict = {}
    while i < len(words) and words[i].literal and words[i].text.startswith("-") and len(words[i].text) > 1:
        t = words[i].text
        if t == "--":
            return i + 1, False, seen
        if t.startswith("--"):
            key, eq, value = t[2:].partition("=")
            if not eq and key in _XARGS.long_value and key not in ("replace", "eof", "max-lines"):
                value = words[i + 1].text if i + 1 < len(words) else ""
                i += 1
            seen[key] = value if eq or key not in ("replace",) else "{}"
            i += 1
            continue
        for j, ch in enumerate(t[1:], 1):
            if ch in _XARGS.value:
                value = t[j + 1 :]
                if not value and ch not in glued_only and i + 1 < len(words):
                    value = words[i + 1].text
                    i += 1
                seen[ch] = value
                break
            seen[ch] = ""
        i += 1
    return i, False, seen


def _stdin_items(text: str | None, seen: dict):
    """The arguments xargs reads from a known stdin, or None (unknown, or too many)."""
    if text is None:
        return None
    if "0" in seen or "null" in seen:
        items = [x for x in text.split("\0") if x]
    elif seen.get("d") or seen.get("delimiter"):
        delim = _c_escapes(seen.get("d") or seen.get("delimiter"))[:1] or "\n"
        items = [x for x in text.split(delim) if x]
    else:
        try:
            items = shlex.split(text)
        except ValueError:
            items = text.split()
    return items if 0 < len(items) <= MAX_STDIN_ITEMS else None


def _stdin_word(word: Word | None, replace_str: str, item: str | None, subs: tuple) -> Word:
    """A word xargs fills from stdin: dynamic, with the text it will hold when known."""
    if word is None:
        text = item if item is not None else ""
    else:
        text = word.text.replace(replace_str, item) if item is not None else word.text
    dynamic = tuple(dict.fromkeys(("from stdin",) + (() if item is not None else ("unseen",)) + (word.dynamic if word else ())))
    home = "" if item == "~" else item[1:] if item and item.startswith("~/") else None
    return Word(text, False, word.raw if word else "", home, dynamic, subs + (word.subs if word else ()))


_FIND_ACTIONS = ("-exec", "-execdir", "-ok", "-okdir")


def _find(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """find START... EXPR: itself (with where it starts, and -delete), and each -exec's command,
    whose {} is what find matches (from START down, START included)."""
    i = 1
    while i < len(words) and words[i].literal and re.fullmatch(r"-[HLP]+|-D|-O\d*", words[i].text):
        i += 2 if words[i].text == "-D" else 1
    starts = []
    while i < len(words) and not (words[i].literal and (words[i].text[:1] in ("-", "(", "!", ",") or words[i].text == ")")):
        starts.append(words[i])
        i += 1
    starts_t = tuple(starts) or (Word(".", True, "."),)
    deletes = False
    actions = []
    while i < len(words):
        t = words[i].text if words[i].literal else ""
        if t == "-delete":
            deletes = True
        if t in _FIND_ACTIONS:
            j = i + 1
            while j < len(words) and not (
                words[j].literal and (words[j].text == ";" or (words[j].text == "+" and words[j - 1].text == "{}"))
            ):
                j += 1
            actions.append(words[i + 1 : j])
            i = j
        i += 1
    _emit(state, scope, words, assigns, redirects, scope.wrappers, find_starts=starts_t, find_deletes=deletes)
    inner = replace(scope, wrappers=scope.wrappers + ("find -exec",))
    for action in actions:
        if not action:
            continue
        cmd = [Word(w.text, False, w.raw, None, ("found by find",) + w.dynamic, w.subs) if "{}" in w.text else w for w in action]
        before = len(state.commands)
        _run(cmd, [], [], inner, state)
        for made in state.commands[before:]:
            made.find_starts = starts_t
    return True


_SSH = _Opts("BbcDEeFIiJLlmOopQRSWw")


def _ssh(name: str, words: list, assigns: list, redirects: list, scope: _Scope, state: _State) -> bool:
    """ssh [options] HOST COMMAND...: ssh runs here; COMMAND (its words joined by spaces, as ssh
    sends them) runs in HOST's shell, so it is parsed again, under the wrapper "ssh HOST"."""
    i, _stopped, _seen = _options(words, 1, _SSH)
    if i + 1 >= len(words):
        return False
    host = words[i]
    code = _code_word(words[i + 1 :])
    if not code.literal:
        _emit(state, scope, words, assigns, redirects, scope.wrappers, code=code)
        return True
    _emit(state, scope, words, assigns, redirects, scope.wrappers)
    inner = replace(scope, wrappers=scope.wrappers + (f"ssh {_display(host)}",), depth=scope.depth + 1, redirects=())
    _parse_code(code.text, inner, state)
    return True


def _display(word: Word) -> str:
    return word.text if word.literal else word.raw


_CODE_WRAPPERS = {
    "ssh": _ssh,
    "eval": _eval,
    "su": _su,
    "env": _env_split,
    "watch": _watch,
    "trap": _trap,
    "alias": _alias,
    "xargs": _xargs,
    "find": _find,
}
