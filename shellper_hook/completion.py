"""Tab completion for the `shellper` command, made from its own argument parser.

`shellper init SHELL` prints it with the integration, so the shells hold no
word list of their own: a new option is completed once the parser has it.
What a value is (a file, a folder, a command, a *.jsonl test set, one of some
choices, or text to type) is read from the argument's metavar and choices.
"""

from __future__ import annotations

import argparse
import re

from .render import quote

_FILES = {"FILE": "file", "DIR": "dir", "REPO": "dir", "COMMAND": "command", "DATASET.jsonl": "jsonl"}


class _Arg:
    def __init__(self, action: argparse.Action):
        self.options = [o for o in action.option_strings]
        self.takes_value = action.nargs != 0
        metavar = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
        braces = re.fullmatch(r"\{(.*)\}", str(metavar))
        self.choices = list(action.choices or (braces.group(1).split(",") if braces else []))
        self.value = "choice" if self.choices else _FILES.get(str(metavar), "text")
        self.name = str(metavar).lower() if not braces else action.dest
        self.help = _short(action.help or "")
        self.repeat = isinstance(action, argparse._AppendAction)


def _short(text: str) -> str:
    """The first clause of a help text: completion menus show one short line."""
    return re.split(r" \(|; |: ", text, maxsplit=1)[0].strip()


def spec(parser: argparse.ArgumentParser) -> dict:
    """{subcommand: (help, [option _Arg], [positional _Arg])}, in the parser's order."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    out = {}
    for name, sp in sub.choices.items():
        args = [_Arg(a) for a in sp._actions if not isinstance(a, argparse._HelpAction)]
        out[name] = (_short(helps.get(name, "")), [a for a in args if a.options], [a for a in args if not a.options])
    return out


def script(shell: str) -> str:
    from .cli import build_parser

    return {"zsh": _zsh, "bash": _bash, "fish": _fish}[shell](spec(build_parser()))


# ---- zsh: _arguments specs ---------------------------------------------------


def _zq(text: str) -> str:
    """Text inside an _arguments description: its brackets and colons escaped."""
    return re.sub(r"([\[\]:\\])", r"\\\1", text)


def _zsh_value(arg: _Arg) -> str:
    return {
        "file": ":file:_files",
        "dir": ":folder:_files -/",
        "choice": f":{arg.name}:({' '.join(arg.choices)})",
        "jsonl": ':test set:_files -g "*.jsonl(-.)"',
        "command": ":command:_normal",
    }.get(arg.value, f":{arg.name}: ")


def _zsh(spec: dict) -> str:
    lines = [
        "_shellper() {",
        "  local curcontext=$curcontext state state_descr line ret=1",
        "  typeset -A opt_args",
        "  local -a cmds help",
        "  cmds=(" + " ".join(quote(f"{n}:{h}") for n, (h, _, _) in spec.items()) + ")",
        "  help=('(- *)-h[show help]' '(- *)--help[show help]')",
        "  _arguments -C '(- *)--version[show the version]' $help '1: :->cmd' '*:: :->args' && ret=0",
        "  case $state in",
        "    cmd) _describe -t commands 'shellper command' cmds && ret=0 ;;",
        "    args)",
        "      curcontext=${curcontext%:*:*}:shellper-${words[1]}:",
        "      case ${words[1]} in",
    ]
    for name, (_, options, positionals) in spec.items():
        words = ["$help"]
        for o in options:
            group = f"({' '.join(o.options)})" if len(o.options) > 1 else ""
            for opt in o.options:
                repeat = "*" if o.repeat else ""
                value = _zsh_value(o) if o.takes_value else ""
                words.append(quote(f"{repeat}{group}{opt}[{_zq(o.help)}]{value}"))
        for p in positionals:
            if p.value == "command":
                words.append(quote("*::command:_normal"))
            elif p.value == "text":
                words.append(quote(f"*:{p.name}: "))
            else:
                words.append(quote(f"1{_zsh_value(p)}"))
        lines.append(f"        {name}) _arguments {' '.join(words)} && ret=0 ;;")
    lines += ["      esac ;;", "  esac", "  return ret", "}"]
    return "\n".join(lines) + "\n"


# ---- bash: a function for `complete -F` --------------------------------------


def _bash(spec: dict) -> str:
    values, lists = [], []
    for name, (_, options, positionals) in spec.items():
        for o in options:
            if not o.takes_value:
                continue
            pattern = "|".join(f"{name}:{opt}" for opt in o.options)
            if o.value == "file":
                values.append(f"    {pattern}) __shellper_compgen -f ;;")
            elif o.value == "dir":
                values.append(f"    {pattern}) __shellper_compgen -d ;;")
            elif o.value == "choice":
                values.append(f"    {pattern}) __shellper_compgen -W {quote(' '.join(o.choices))} ;;")
            else:
                values.append(f"    {pattern}) return 0 ;;  # a value to type")
        words = [opt for o in options for opt in o.options] + ["--help"]
        kinds = {p.value for p in positionals}
        words += [c for p in positionals for c in p.choices]
        if "command" in kinds:
            lists.append(f"    {name}) if (( i + 1 == COMP_CWORD )); then __shellper_compgen -c; else __shellper_compgen -f; fi ;;")
        elif "jsonl" in kinds:
            lists.append(f"    {name}) [[ $cur == -* ]] && __shellper_compgen -W {quote(' '.join(words))} || __shellper_compgen -j ;;")
        else:
            lists.append(f"    {name}) __shellper_compgen -W {quote(' '.join(words))} ;;")
    top = " ".join([*spec, "--version", "--help"])
    return (
        "\n".join(
            [
                "__shellper_complete() {",
                "  local cur=${COMP_WORDS[COMP_CWORD]-} prev='' sub='' i",
                "  (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]-}",
                "  for (( i = 1; i < COMP_CWORD; i++ )); do",
                "    [[ ${COMP_WORDS[i]-} == -* ]] || { sub=${COMP_WORDS[i]-}; break; }",
                "  done",
                "  COMPREPLY=()",
                "  case $sub:$prev in",
                *values,
                "    *)",
                "  case $sub in",
                f"    '') __shellper_compgen -W {quote(top)} ;;",
                *lists,
                "  esac ;;",
                "  esac",
                "}",
                "# Completions for $cur: -f files, -d folders, -c commands, -j *.jsonl and folders, -W WORDS.",
                "__shellper_compgen() {",
                "  case $1 in",
                "    -f|-d|-j) compopt -o filenames 2>/dev/null ;;",
                "  esac",
                "  case $1 in",
                '    -j) mapfile -t COMPREPLY < <(compgen -f -X \'!*.jsonl\' -- "$cur"; compgen -d -- "$cur") ;;',
                '    -W) mapfile -t COMPREPLY < <(compgen -W "$2" -- "$cur") ;;',
                '    *) mapfile -t COMPREPLY < <(compgen "$1" -- "$cur") ;;',
                "  esac",
                "}",
                "# Unless you have a completion of your own for shellper.",
                "\\builtin complete -p shellper >/dev/null 2>&1 || \\builtin complete -F __shellper_complete shellper 2>/dev/null",
            ]
        )
        + "\n"
    )


# ---- fish: complete -c shellper lines ----------------------------------------


def _fish(spec: dict) -> str:
    q = lambda text: quote(text, "fish")  # noqa: E731
    names = " ".join(spec)
    lines = [
        "builtin complete -c shellper -e  # sourced again: no duplicates",
        "builtin complete -c shellper -f",
        f"builtin complete -c shellper -n {q('not __fish_seen_subcommand_from ' + names)} -l version -d {q('show the version')}",
        f"builtin complete -c shellper -s h -l help -d {q('show help')}",
    ]
    for name, (help_, options, positionals) in spec.items():
        lines.append(f"builtin complete -c shellper -n {q('not __fish_seen_subcommand_from ' + names)} -a {name} -d {q(help_)}")
        seen = f"__fish_seen_subcommand_from {name}"
        for o in options:
            flags = " ".join(f"-l {opt[2:]}" if opt.startswith("--") else f"-s {opt[1:]}" for opt in o.options)
            value = ""
            if o.takes_value:
                value = {
                    "file": " -r -F",
                    "dir": " -x -a '(__fish_complete_directories)'",
                    "choice": f" -x -a {q(' '.join(o.choices))}",
                }.get(o.value, " -x")
            lines.append(f"builtin complete -c shellper -n {q(seen)} {flags}{value} -d {q(o.help)}")
        for p in positionals:
            if p.value == "choice":
                cond = f"{seen}; and not __fish_seen_subcommand_from {' '.join(p.choices)}"
                lines.append(f"builtin complete -c shellper -n {q(cond)} -a {q(' '.join(p.choices))} -d {q(p.name)}")
            elif p.value in ("jsonl", "command", "file"):
                lines.append(f"builtin complete -c shellper -n {q(seen)} -F")
    return "\n".join(lines) + "\n"
