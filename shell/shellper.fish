# shellper for fish (3.6 or newer): a request typed at the prompt becomes a command.
# Load it with `shellper init fish | source` in config.fish (or let ./install.sh or
# fisher put it in conf.d): init prints __shellper_python, __shellper_pkg and
# __shellper_socket, this file, and the completion of the shellper command.
#   Ctrl-G            the line is a request: the command replaces it (undo brings the
#                     request back); on an empty line the last suggestion comes back
#   #? request Enter  the same; Enter on the suggestion has the daemon judge it again
#   Ctrl-C / Ctrl-G   while "translating..." shows: cancel; other keys typed meanwhile
#                     go on the line when the answer comes (which is then dropped)
# Settings, read at load: SHELLPER_KEY (bind notation, default \cg; '' binds none),
# SHELLPER_PREFIX (default '#?'; '' leaves Enter alone), SHELLPER_AUTOSTART=0 (start no
# daemon with the shell). fish 3.x cannot add a history entry without running it: the
# request never goes in the history. This file captures the line, sends it, waits and
# applies the reply; the daemon decides (shellper_hook/protocol.py). fish has no
# sockets: every request goes to the client on its stdin. Builtins are called through
# `builtin`/`command`, so your functions of the same names change nothing here.

# Sourced twice: keep the settings and state, refresh the functions.
set -q __shellper_python[1]; or set -g __shellper_python python3
set -q __shellper_pkg; or set -g __shellper_pkg '' # the folder holding shellper_hook
set -q __shellper_socket; or set -g __shellper_socket ''
set -q __shellper_last; or set -g __shellper_last '' # Ctrl-G on an empty line brings it back
set -q __shellper_pending; or set -g __shellper_pending '' # suggested, not yet run
set -q __shellper_inserted; or set -g __shellper_inserted '' # as put on the line
set -q __shellper_checked; or set -g __shellper_checked 0 # 1: Enter runs it without asking
set -g __shellper_busy 0 # 1 while the client waits
set -g __shellper_prefix '#?'
set -q SHELLPER_PREFIX; and set -g __shellper_prefix "$SHELLPER_PREFIX"

# Each argument as "shellper: MSG" on its own line above the prompt; --note: on the
# prompt's line until the next redraw. Control and bidi characters show as "?".
function __shellper_say
    set -l end '\n'
    if builtin test "$argv[1]" = --note
        set end ''
        set -e argv[1]
    end
    for msg in $argv
        set msg (string replace -ra '[\x00-\x1f\x7f\x{80}-\x{9f}\x{61c}\x{200e}\x{200f}\x{2028}-\x{202e}\x{2066}-\x{2069}]' '?' -- $msg)
        builtin printf "\r\033[Kshellper: %s$end" "$msg" >&2
    end
    builtin commandline -f repaint
end

# The request to the client, in protocol.py's one format: OP PID SHELL CWD TEXT, the
# fields $argv[3..], the terminal's environment the daemon reads (exported SHELLPER_*,
# HOME, XDG_CONFIG_HOME; CDPATH, a list, joined with ':'), an empty field to end.
function __shellper_request -a op text
    set -l fields $op $fish_pid fish $PWD "$text" $argv[3..]
    for name in (set --names --export | string match -r '^(?:SHELLPER_\w+|HOME|XDG_CONFIG_HOME)$')
        set -a fields "$name=$$name"
    end
    if set -q CDPATH
        set -l cdpath (string join : -- $CDPATH | string collect)
        set -a fields "CDPATH=$cdpath"
    end
    builtin printf '%s\0' $fields ''
end

# The client, request on stdin, for the daemon `shellper init fish` named; never with
# the user's folder on Python's path (a json.py there would run): `python -I -S` with
# the package's folder, else from /. --detach: in the background (no job of fish's,
# $last_pid stays yours), past the hangup of a terminal that closes as fish exits.
function __shellper_client
    builtin test -n "$__shellper_socket"; and set -lx SHELLPER_SOCKET $__shellper_socket
    set -l run $__shellper_python -m shellper_hook.client
    builtin test -n "$__shellper_pkg" -a -d "$__shellper_pkg/shellper_hook" # (gone: a venv rebuilt)
    and set run $__shellper_python -I -S -c 'import sys; sys.path.append(sys.argv.pop(1)); from shellper_hook.client import main; main()' $__shellper_pkg
    if builtin test "$argv[1]" = --detach
        # (sh gives a background job /dev/null as stdin: the request goes on fd 3.)
        command sh -c 'trap "" HUP; exec 3<&0 </dev/null; cd / && "$@" <&3 >/dev/null 2>&1 3<&- &' sh $run
    else if builtin test "$run[2]" = -I
        command $run
    else
        command sh -c 'cd / && exec "$@"' sh $run
    end
end

# Ask the client (op and text): the reply's fields in __shellper_reply, the keys typed
# meanwhile in __shellper_keys (the client took them off the terminal, so an Enter
# never runs a suggestion unseen). Status 1: cancelled by Ctrl-C.
function __shellper_ask
    set -g __shellper_busy 1
    set -g __shellper_reply (__shellper_request $argv | __shellper_client 2>/dev/null | string split0)
    set -l st $pipestatus[2]
    set -l busy $__shellper_busy
    set -g __shellper_busy 0
    set -g __shellper_keys $__shellper_reply[4]
    set -g __shellper_reply $__shellper_reply[1..3]
    builtin test "$busy" = 1 -a "$st" != 130; and return 0
    builtin commandline -f repaint
    return 1
end

# Ctrl-C while the client waits: it stops too; the line stays as it was.
function __shellper_sigint --on-signal SIGINT
    builtin test "$__shellper_busy" = 1; or return 0
    set -g __shellper_busy cancelled
    __shellper_say cancelled
end

# Put command $1 on the line: one replacement, so one undo brings the request back.
# Enter expands an abbreviation at the cursor (`abbr --position anywhere L '| less'`):
# a last word naming one is quoted, which keeps its value.
function __shellper_set_line
    set -l cmd $argv[1]
    set -l last (string match -r -- '\s([A-Za-z0-9_./,:@+-]+)$' $cmd)[2]
    if builtin test -n "$last"; and builtin abbr -q -- $last
        set cmd (string sub -e -(string length -- $last) -- $cmd)"'$last'"
    end
    builtin commandline -r -- $cmd
    builtin commandline -C (string length -- $cmd)
end

# Text typed while the client waited ("t" and the keys) onto the end of the line;
# Backspace and Delete remove the character before them.
function __shellper_type_in
    set -l line (builtin commandline | string collect)
    for c in (string split '' -- (string sub -s 2 -- "$argv[1]"))
        if builtin test "$c" = \x7f -o "$c" = \b
            set line (string sub -e -1 -- "$line")
        else
            set line "$line$c"
        end
    end
    builtin commandline -r -- "$line"
    builtin commandline -C (string length -- "$line")
end

# Why no command came: an error reply's message, or no (or an unexpected) answer; none
# from a client whose Python or package is gone: ./install.sh --uninstall ran.
function __shellper_fail
    if builtin test "$argv[1]" = error
        set -l why $argv[3]
        builtin test -n "$why"; or set why $argv[2]
        builtin test -n "$why"; or set why failed
        __shellper_say (string split \n -- $why)
    else if not builtin set -q argv[1]; and begin
            string match -q '*/*' -- "$__shellper_python"; and not builtin test -e "$__shellper_python"
            or builtin test -n "$__shellper_pkg" -a ! -d "$__shellper_pkg/shellper_hook"
        end
        __shellper_say "shellper was uninstalled (its files are gone): `__shellper_unload` (or `exec fish`) unloads it from this terminal"
    else if not builtin set -q argv[1]
        __shellper_say "no answer from the daemon (see `shellper status`)"
    else
        __shellper_say "unexpected answer from the daemon (see `shellper status`)"
    end
end

# Translate request $1; fish waits inside the key's function.
function __shellper_start
    set -l shown $argv[1] # over the prompt's line, so the request stays in sight
    set -l max 10
    builtin test "$COLUMNS" -gt 58 2>/dev/null; and set max (math $COLUMNS - 48)
    builtin test (string length -- "$shown") -gt $max; and set shown (string sub -l (math $max - 3) -- "$shown")...
    __shellper_say --note "translating... (Ctrl-C cancels) \"$shown\""
    set -g __shellper_inserted ''
    set -g __shellper_used 1 # this terminal now has a conversation to forget at exit
    __shellper_ask translate $argv[1]
    set -l asked $status
    builtin printf '\r\033[K' >&2 # the note goes
    builtin test $asked = 0; or return 0 # cancelled: the line was never changed
    set -l fields $__shellper_reply
    if builtin test "$__shellper_keys" = c # Ctrl-G again: never mind
        __shellper_say cancelled
    else if string match -q 't*' -- "$__shellper_keys" # the user's text wins
        __shellper_type_in $__shellper_keys
        builtin test "$fields[1]" = error; and __shellper_say "$fields[3]"
        __shellper_say "the line changed while translating; suggestion dropped"
    else if builtin test "$fields[1]" = ok -a -n "$fields[2]"
        set -g __shellper_last $fields[2]
        set -g __shellper_pending $fields[2]
        __shellper_set_line $fields[2]
        set -g __shellper_inserted (builtin commandline -b | string collect)
        set -g __shellper_checked 0
        builtin test -n "$fields[3]"; and __shellper_say (string split \n -- $fields[3])
    else
        __shellper_fail $fields
    end
    builtin commandline -f repaint
end

# Ctrl-G: the request is the line, or what follows "#?"; trimmed.
function __shellper_translate
    set -l line (builtin commandline -b | string collect)
    if not string match -qr '\S' -- $line
        if builtin test -n "$__shellper_last"
            __shellper_set_line $__shellper_last
        else
            set -l key Ctrl-G
            set -q SHELLPER_KEY; and set key (string escape -- "$SHELLPER_KEY")
            __shellper_say "type a request first, then press $key"
        end
        return 0
    end
    set -l req (string trim -- $line | string collect)
    set -l n (string length -- "$__shellper_prefix")
    if builtin test $n -gt 0; and builtin test (string sub -l $n -- $req | string collect) = "$__shellper_prefix"
        set req (string sub -s (math $n + 1) -- $req | string trim | string collect)
    end
    if builtin test -z "$req"
        __shellper_say "type a request after $__shellper_prefix"
        return 0
    end
    __shellper_start $req
end

# Enter: a one-line "#? request" is translated; anything else runs, the suggestion
# as it was put on the line once the daemon has judged it again.
function __shellper_enter
    set -l line (builtin commandline -b | string collect)
    set -l prefix (string escape --style=regex -- "$__shellper_prefix")
    if builtin test -n "$prefix"; and not builtin commandline -P; and string match -qr -- '^\s*'$prefix'[^\n]*$' $line
        __shellper_translate
        return 0
    end
    set -l suggested 0
    builtin test -n "$__shellper_inserted" -a "x$line" = "x$__shellper_inserted"; and not builtin commandline -P; and set suggested 1
    if builtin test $suggested = 1 -a "$__shellper_checked" != 1
        __shellper_enter_check; and return 0
    end
    # As fish's own Enter in vi normal mode (bind -m insert): the next line starts in insert mode.
    if builtin test "$fish_bind_mode" = default; and string match -q '*vi*' -- "$fish_key_bindings"
        set -g fish_bind_mode insert
    end
    # execute expands the abbreviation at the cursor, regex ones too (the manual's
    # multicd turns a last word `...` into ../../): the suggestion runs as shown, a
    # blank after it and the cursor past it (not after a backslash, which escapes it).
    if builtin test $suggested = 1; and not string match -q -- '*\\' $line
        builtin commandline -r -- "$line "
        builtin commandline -C (string length -- "$line ")
    end
    builtin commandline -f execute
end

# Enter on the suggestion: the daemon judges it again on the files as they are now (at
# most 3 s; Ctrl-C: nothing runs). Status 1: run it; 0: it stays, and why is printed.
function __shellper_enter_check
    __shellper_ask check $__shellper_pending; or return 0
    set -l fields $__shellper_reply
    builtin test "$fields[1]" = same; and return 1
    string match -q 't*' -- "$__shellper_keys"; and __shellper_type_in $__shellper_keys
    if builtin test "$fields[1]" = changed
        set -g __shellper_checked 1 # shown now: the next Enter runs it
        __shellper_say (string split \n -- $fields[3])
    else if builtin test "$fields[1]" = error -a "$fields[2]" = refused
        __shellper_say (string split \n -- $fields[3]) # the next Enter asks again
    else
        set -g __shellper_checked 1
        __shellper_fail $fields
        __shellper_say "press Enter again to run it anyway"
    end
    builtin commandline -f repaint
    return 0
end

# The line run right after a suggestion (without the blank Enter put after it) ...
function __shellper_preexec --on-event fish_preexec
    builtin test -n "$__shellper_pending"; or return 0
    set -l line $argv[1]
    builtin test -n "$__shellper_inserted" -a "x$line" = "x$__shellper_inserted "; and set line $__shellper_inserted
    set -g __shellper_inserted ''
    set -g __shellper_ran "$line"
end

# ... is reported with its status, and nothing else. A line fish keeps out of its
# history is reported empty: the suggestion is forgotten, the line never stored.
function __shellper_postexec --on-event fish_postexec
    set -l st $status
    set -q __shellper_ran[1]; or return $st
    set -l line $__shellper_ran
    set -e __shellper_ran
    set -g __shellper_pending ''
    if string match -q ' *' -- "$line"; or builtin test -n "$fish_private_mode"
        set line ''
    end
    __shellper_request executed "$line" status=$st | __shellper_client >/dev/null 2>&1
    return $st
end

# The key and Enter in the default (emacs, vi normal) and vi insert modes; your own
# Enter binding in a mode stays (then "#?" lines run as comments).
function __shellper_bind
    set -l key \cg
    set -q SHELLPER_KEY; and set key "$SHELLPER_KEY"
    set -g __shellper_key $key # what __shellper_unload unbinds
    for mode in default insert
        builtin test -n "$key"; and builtin bind -M $mode $key __shellper_translate
        builtin test -n "$__shellper_prefix"; or continue
        for enter in \r \n
            set -l mine (builtin bind --user -M $mode $enter 2>/dev/null)
            if builtin test -z "$mine"; or string match -q '*__shellper_enter' -- $mine
                builtin bind -M $mode $enter __shellper_enter
            end
        end
    end
end
__shellper_bind

# Take shellper out of this shell (`fisher remove` calls it): its bindings (fish's own
# come back), completions, functions and variables; the daemon forgets this terminal.
function __shellper_unload
    set -q __shellper_used; and __shellper_request closed | __shellper_client --detach
    for mode in default insert
        for key in $__shellper_key \r \n
            builtin test -n "$key"; or continue
            string match -q '*__shellper_*' -- (builtin bind --user -M $mode $key 2>/dev/null)
            and builtin bind -e -M $mode $key
        end
    end
    builtin complete -c shellper -e
    for name in (builtin set -g -n | string match '__shellper_*')
        builtin set -e -g $name
    end
    builtin functions -e (builtin functions -a -n | string match '__shellper_*')
end

# This terminal is gone: the daemon forgets its conversation now.
function __shellper_exit --on-event fish_exit
    status is-interactive; or return 0 # a script that loaded us had no conversation
    set -q __shellper_used; or return 0 # nor has a terminal that never asked
    __shellper_request closed | __shellper_client --detach
end

# No daemon listening (none yet, or it exited: idle or stopped): start one in the
# background at the shell's start and at each prompt, so the next Ctrl-G finds it ready.
# With the daemon up this is one test of its socket file: no process.
# At a prompt (it exited: idle, or stopped) it leaves the model alone until asked.
function __shellper_autostart --on-event fish_prompt
    set -l lazy lazy=1
    builtin test "$argv[1]" = first; and set lazy
    status is-interactive; and builtin test -n "$__shellper_socket" -a ! -S "$__shellper_socket"
    and not builtin contains -- (string lower -- "$SHELLPER_AUTOSTART") 0 no false off
    and __shellper_request start '' $lazy | __shellper_client --detach
end
__shellper_autostart first
