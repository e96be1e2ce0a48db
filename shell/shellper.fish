# shellper for fish (3.x; tested with 3.6): turn a request typed at the
# prompt into a command.
#
# Load it from ~/.config/fish/config.fish with:   shellper init fish | source
# (or let ./install.sh put it in ~/.config/fish/conf.d/shellper.fish).
# `shellper init fish` prints three settings, __shellper_python,
# __shellper_pkg and __shellper_socket, then this file. Sourced on its own,
# it uses `python3`.
#
# Use:
#   Ctrl-G             the whole line is a request; it is replaced by the
#                      command, ready to edit or run. On an empty line, the
#                      last suggestion comes back.
#   #? request  Enter  the same, instead of running the line.
#   Ctrl-C (or Ctrl-G) while "translating..." shows: cancel, the request
#                      stays on the line (Ctrl-G is taken in when the answer
#                      comes, see below).
#   keys typed while "translating..." shows: taken in when the answer
#                      comes (fish runs a key's function to its end): text
#                      and Backspace go on the request's line and the answer
#                      is dropped ("suggestion dropped"); Ctrl-G cancels;
#                      Enter never runs anything.
#   undo (Ctrl-Z / Ctrl-_) after a suggestion brings the request back.
#   Unlike zsh and bash, the request does not go into the history before
#   the command run (fish 3.x cannot add an entry without running it), so
#   SHELLPER_HISTORY does nothing here.
#
# Settings (read once, when this file is loaded):
#   SHELLPER_KEY       the key, in `bind` notation (default \cg), bound in
#                      the default and vi insert modes; SHELLPER_KEY=''
#                      binds no key (bind __shellper_translate yourself).
#   SHELLPER_PREFIX    what marks a request on Enter (default '#?');
#                      SHELLPER_PREFIX='' leaves Enter unbound.
#   SHELLPER_AUTOSTART 0 (or no, false, off): do not start the daemon in the
#                      background when a shell starts and none is running.
#
# Functions, for your own bindings:
#   __shellper_translate   what Ctrl-G does
#   __shellper_enter       Enter: "#? request" lines are translated, every
#                          other line runs (commandline -f execute). Enter is
#                          left alone in a mode where you bound it yourself.
#
# Tab completion for the shellper command: complete -c shellper (made by
# __shellper_complete).
#
# Everything here is named __shellper_* (functions and global variables);
# builtins are called through `builtin`/`command`, so your functions of the
# same names do not change them. fish has no socket builtin: every request
# goes through the client (`python -m shellper_hook.client`), the request on
# its stdin, never in argv; no process runs for ordinary commands.
#
# The pattern of shellper.zsh and shellper.bash (same function names for the
# same jobs, same messages):
#   __shellper_request_of LINE   the request in a line (all of it, or what
#                                follows "#?")
#   __shellper_start REQ LINE    ask the client; fish waits inside the key's
#                                function (Ctrl-C stops the client)
#   __shellper_apply FIELD...    "ok" CMD [NOTE] puts CMD on the line,
#                                "error" KIND MSG and anything else leave the
#                                line and say why
#   __shellper_say MSG           every message, as "shellper: MSG" above the
#                                prompt, control and bidi characters as "?"
#   __shellper_enter_check       Enter on the suggestion as it was put on the
#                                line: the client asks the daemon to judge it
#                                again (at most 3 s; Ctrl-C stops it); "same"
#                                runs it, "changed" prints the new lines and a
#                                second Enter runs it, "error" "refused" runs
#                                nothing (the next Enter asks again), any
#                                other error or no answer: a second Enter runs
#                                it; keys pressed while it waited never run
#                                it unseen (the client takes them off the
#                                terminal; typed text goes on the line).
#                                Other lines: never asked, no process.
#   __shellper_preexec/postexec  note the line run right after a suggestion
#                                and report it (and only it) with its status

# Sourced twice: keep the settings and state, refresh the functions.
set -q __shellper_python[1]; or set -g __shellper_python python3
set -q __shellper_pkg; or set -g __shellper_pkg '' # the folder holding shellper_hook, if known
set -q __shellper_socket; or set -g __shellper_socket ''
# The last command suggested, and the one waiting to be run (the next line
# run is reported, and nothing else).
set -q __shellper_last; or set -g __shellper_last ''
set -q __shellper_pending; or set -g __shellper_pending ''
set -q __shellper_ran; or set -g __shellper_ran ''
set -q __shellper_ran_set; or set -g __shellper_ran_set 0
set -g __shellper_busy 0 # 1 while a request is with the client
# The suggestion as it stands on the line (what Enter has the daemon judge
# again), and 1 once Enter needs not ask again.
set -q __shellper_inserted; or set -g __shellper_inserted ''
set -q __shellper_checked; or set -g __shellper_checked 0
# Read at each load, as SHELLPER_KEY is.
if set -q SHELLPER_PREFIX
    set -g __shellper_prefix "$SHELLPER_PREFIX"
else
    set -g __shellper_prefix '#?'
end

# Every message on its own line above the prompt, which is then redrawn
# below it. --note: on the prompt's own line, until the next redraw.
function __shellper_say
    set -l end '\n'
    if builtin test "$argv[1]" = --note
        set end ''
        set -e argv[1]
    end
    set -l msg (builtin printf '%s' $argv[1] | string collect)
    # Control and bidi characters as "?": no reply can drive the terminal.
    set msg (string replace -ra '[\x00-\x1f\x7f\x{80}-\x{9f}\x{61c}\x{200e}\x{200f}\x{2028}-\x{202e}\x{2066}-\x{2069}]' '?' -- $msg)
    builtin printf "\r\033[Kshellper: %s$end" $msg >&2
    builtin commandline -f repaint
end

# The request in a line: the line itself, or what follows "#?"; trimmed.
function __shellper_request_of
    set -l text (string trim -- $argv[1] | string collect)
    set -l n (string length -- "$__shellper_prefix")
    if builtin test $n -gt 0; and builtin test (string sub -l $n -- $text | string collect) = "$__shellper_prefix"
        set text (string sub -s (math $n + 1) -- $text | string trim | string collect)
    end
    builtin printf '%s' $text
end

# Put command $1 on the line: one replacement, so one undo brings the
# request back. Enter expands an abbreviation at the cursor (`abbr
# --position anywhere L '| less'`): a last word that names one is quoted,
# which keeps its value (unquoted words hold only plain characters).
function __shellper_set_line
    set -l cmd $argv[1]
    set -l last (string match -r -- '\s([A-Za-z0-9_./,:@+-]+)$' $cmd)[2]
    if builtin test -n "$last"; and builtin abbr -q -- $last
        set cmd (string sub -e -(string length -- $last) -- $cmd)"'$last'"
    end
    builtin commandline -r -- $cmd
    builtin commandline -C (string length -- $cmd)
end

# Translate request $1 (from line $2); the client gets it on stdin.
function __shellper_start
    # The note goes over the prompt's line: the request stays in sight in it.
    set -l shown $argv[1]
    set -l max 10
    builtin test "$COLUMNS" -gt 58 2>/dev/null; and set max (math $COLUMNS - 48)
    builtin test (string length -- "$shown") -gt $max; and set shown (string sub -l (math $max - 3) -- "$shown")...
    __shellper_say --note "translating... (Ctrl-C cancels) \"$shown\""
    set -g __shellper_inserted ''
    set -g __shellper_busy 1
    set -g __shellper_used 1 # this terminal now has a conversation to forget at exit
    # Ctrl-C stops the client (fish gets the SIGINT too: __shellper_sigint says so).
    # The shell's CDPATH (a list) goes too, for where cd goes.
    set -l cdpath (string join : -- $CDPATH)
    set -l fields (builtin printf '%s\0%s\0%s\0' $PWD "$cdpath" $argv[1] | __shellper_client translate $fish_pid fish cdpath 2>/dev/null | string split0)
    set -l st $pipestatus[2]
    builtin printf '\r\033[K' >&2 # the note goes
    if builtin test "$__shellper_busy" != 1 -o "$st" = 130
        set -g __shellper_busy 0
        builtin commandline -f repaint
        return 0 # cancelled: the line was never changed
    end
    set -g __shellper_busy 0
    # The keys typed meanwhile (the client took them off the terminal, so an
    # Enter never runs a suggestion unseen): Ctrl-G cancels; typed text goes
    # on the line, and the suggestion is dropped.
    set -l keys $fields[4]
    set -e fields[4]
    if builtin test "$keys" = c
        __shellper_say cancelled
        builtin commandline -f repaint
        return 0
    else if string match -q 't*' -- "$keys"
        __shellper_type_in $keys
        builtin test "$fields[1]" = error; and __shellper_say "$fields[3]"
        __shellper_say "the line changed while translating; suggestion dropped"
        builtin commandline -f repaint
        return 0
    end
    __shellper_apply $fields
end

# Keys $1 from the client ("t" and text typed while it waited) onto the end of
# the line: Backspace and Delete remove the character before them.
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

# Show the outcome: the command on the line, or the request kept and a message.
function __shellper_apply
    if builtin test "$argv[1]" = ok -a -n "$argv[2]"
        set -g __shellper_last $argv[2]
        set -g __shellper_pending $argv[2]
        __shellper_set_line $argv[2]
        set -g __shellper_inserted (builtin commandline -b | string collect)
        set -g __shellper_checked 0
        if builtin test -n "$argv[3]"
            for note in (string split \n -- $argv[3])
                __shellper_say $note
            end
        end
        builtin commandline -f repaint
    else if builtin test "$argv[1]" = error
        if builtin test -n "$argv[3]"
            __shellper_say $argv[3]
        else if builtin test -n "$argv[2]"
            __shellper_say $argv[2]
        else
            __shellper_say failed
        end
    else if not builtin set -q argv[1]; and __shellper_gone
        __shellper_say "shellper was uninstalled (its files are gone): `__shellper_unload` (or `exec fish`) unloads it from this terminal"
    else if not builtin set -q argv[1]
        __shellper_say "no answer from the daemon (see `shellper status`)"
    else
        __shellper_say "unexpected answer from the daemon (see `shellper status`)"
    end
    return 0
end

# Status 0 if the client this shell was given is gone (./install.sh
# --uninstall removed the environment): its Python, or its package's folder.
function __shellper_gone
    if string match -q '*/*' -- "$__shellper_python"; and not builtin test -e "$__shellper_python"
        return 0
    end
    builtin test -n "$__shellper_pkg" -a ! -d "$__shellper_pkg/shellper_hook"
end

# Ctrl-C while translating: the request stays on the line (fish keeps it).
function __shellper_sigint --on-signal SIGINT
    builtin test "$__shellper_busy" = 1; or return 0
    set -g __shellper_busy cancelled
    __shellper_say cancelled
end

# Ctrl-G.
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
    set -l req (__shellper_request_of $line | string collect)
    if builtin test -z "$req"
        __shellper_say "type a request after $__shellper_prefix"
        return 0
    end
    __shellper_start $req $line
end

# Enter: a one-line "#? request" is translated; anything else runs.
function __shellper_enter
    set -l line (builtin commandline -b | string collect)
    set -l prefix (string escape --style=regex -- "$__shellper_prefix")
    if builtin test -n "$prefix"; and not builtin commandline -P; and string match -qr -- '^\s*'$prefix'[^\n]*$' $line
        set -l req (__shellper_request_of $line | string collect)
        if builtin test -z "$req"
            __shellper_say "type a request after $__shellper_prefix"
        else
            __shellper_start $req $line
        end
        return 0
    end
    # The suggestion as it was put on the line: judged again first. Any other line runs as is.
    if builtin test -n "$__shellper_inserted" -a "$__shellper_checked" != 1 -a "x$line" = "x$__shellper_inserted"
        and not builtin commandline -P
        __shellper_enter_check; and return 0
    end
    # As fish's own Enter in vi normal mode (bind -m insert): the next line starts in insert mode.
    if builtin test "$fish_bind_mode" = default; and string match -q '*vi*' -- "$fish_key_bindings"
        set -g fish_bind_mode insert
    end
    # fish's execute expands the abbreviation at the cursor (or one character
    # before it), regular expressions too: the manual's `multicd` turns a last
    # word `...` into ../../. The suggestion runs as shown: a blank after it,
    # the cursor past the blank, under no word. (Not after a backslash, which
    # would escape it; the history and the daemon see the line without it.)
    if builtin test -n "$__shellper_inserted" -a "x$line" = "x$__shellper_inserted"
        and not string match -q -- '*\\' $line; and not builtin commandline -P
        builtin commandline -r -- "$line "
        builtin commandline -C (string length -- "$line ")
    end
    builtin commandline -f execute
end

# Enter on the suggestion: the daemon judges it again on the files as they are
# now (the client asks, never starting a daemon; fish waits, at most 3 s;
# Ctrl-C: nothing runs, the line stays). Status 1: run it; 0: it stays on the
# line, and why is printed.
function __shellper_enter_check
    set -g __shellper_busy 1
    # Ctrl-C stops the client (fish gets the SIGINT too: __shellper_sigint says so).
    set -l cdpath (string join : -- $CDPATH)
    set -l fields (builtin printf '%s\0%s\0%s\0' $PWD "$cdpath" $__shellper_pending | __shellper_client enter $fish_pid fish cdpath 2>/dev/null | string split0)
    set -l st $pipestatus[2]
    if builtin test "$__shellper_busy" != 1 -o "$st" = 130
        set -g __shellper_busy 0
        builtin commandline -f repaint
        return 0 # cancelled: nothing ran
    end
    set -g __shellper_busy 0
    if builtin test "$fields[1]" = same
        return 1
    end
    # Keys pressed while it waited were pressed unseen (the client took them off
    # the terminal): an Enter among them must not run it; typed text goes on the line.
    string match -q 't*' -- "$fields[4]"; and __shellper_type_in $fields[4]
    if builtin test "$fields[1]" = changed
        set -g __shellper_checked 1 # shown now: the next Enter runs it
        for note in (string split \n -- $fields[3])
            __shellper_say $note
        end
    else if builtin test "$fields[1]" = error -a "$fields[2]" = refused
        for note in (string split \n -- $fields[3])
            __shellper_say $note # nothing runs; the next Enter asks again
        end
    else
        set -g __shellper_checked 1
        if builtin test "$fields[1]" = error
            set -l why $fields[3]
            builtin test -n "$why"; or set why $fields[2]
            builtin test -n "$why"; or set why failed
            for note in (string split \n -- $why)
                __shellper_say $note
            end
        else if not builtin set -q fields[1]
            __shellper_say "no answer from the daemon (see `shellper status`)"
        else
            __shellper_say "unexpected answer from the daemon (see `shellper status`)"
        end
        __shellper_say "press Enter again to run it anyway"
    end
    builtin commandline -f repaint
    return 0
end

# Note the line run right after a suggestion.
function __shellper_preexec --on-event fish_preexec
    builtin test -n "$__shellper_pending"; or return 0
    set -l line $argv[1]
    # Without the blank Enter put after the suggestion (see __shellper_enter).
    builtin test -n "$__shellper_inserted" -a "x$line" = "x$__shellper_inserted "; and set line $__shellper_inserted
    set -g __shellper_inserted ''
    set -g __shellper_ran $line
    set -g __shellper_ran_set 1
end

# Report it with its status; nothing happens after other lines.
function __shellper_postexec --on-event fish_postexec
    set -l st $status
    builtin test "$__shellper_ran_set" = 1; or return $st
    set -l line $__shellper_ran
    set -g __shellper_ran ''
    set -g __shellper_ran_set 0
    set -g __shellper_pending ''
    # A line fish keeps out of its history is reported empty: the
    # suggestion is forgotten, the line never stored.
    if string match -q ' *' -- $line; or builtin test -n "$fish_private_mode"
        set line ''
    end
    builtin printf '%s\0' $line | __shellper_client executed $fish_pid $st fish >/dev/null 2>&1
    return $st
end

# Bind the key and Enter in the default (emacs, vi normal) and vi insert modes.
function __shellper_bind
    set -l key \cg
    set -q SHELLPER_KEY; and set key "$SHELLPER_KEY"
    set -g __shellper_key $key # what __shellper_unload unbinds
    for mode in default insert
        if builtin test -n "$key"
            builtin bind -M $mode $key __shellper_translate
        end
        # SHELLPER_PREFIX='': Enter stays fish's own.
        builtin test -n "$__shellper_prefix"; or continue
        for enter in \r \n
            # Your own Enter binding in this mode stays (then "#?" lines run as comments).
            set -l mine (builtin bind --user -M $mode $enter 2>/dev/null)
            if builtin test -z "$mine"; or string match -q '*__shellper_enter' -- $mine
                builtin bind -M $mode $enter __shellper_enter
            end
        end
    end
end
__shellper_bind

# Take shellper out of this shell (`fisher remove` calls it): its key and
# Enter bindings (fish's own come back), completions, functions and
# variables; the daemon forgets this terminal's conversation.
function __shellper_unload
    set -q __shellper_used; and __shellper_client --detach closed $fish_pid
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

# Tab completion for the shellper command: subcommands, their options,
# shells for `init`, files where a file is expected. Static lists, kept in
# step with `shellper --help` by tests/test_completion.py.
function __shellper_complete
    builtin complete -c shellper -e # sourced again: no duplicates
    builtin complete -c shellper -f
    set -l top __fish_use_subcommand
    set -l ask '__fish_seen_subcommand_from ask'
    builtin complete -c shellper -n $top -l version -d 'show the version'
    builtin complete -c shellper -s h -l help -d 'show help'
    for pair in \
        'ask:translate a request into a command and print it' \
        'explain:say what a command will do to your files' \
        "history:show this terminal's conversation" \
        "reset:forget this terminal's conversation" \
        'status:show the daemon, its sessions and the model server' \
        'stop:stop the daemon' \
        'daemon:run the daemon in the foreground' \
        'doctor:check everything shellper needs' \
        'config:show the effective settings and their sources' \
        'init:print the shell integration' \
        'export:write your corrected suggestions as training data' \
        "eval:measure the model's tool-call accuracy on a test set" \
        'setup-model:download the SHELLper model and create it in Ollama'
        set -l kv (string split -m 1 : -- $pair)
        builtin complete -c shellper -n $top -a $kv[1] -d $kv[2]
    end
    builtin complete -c shellper -n '__fish_seen_subcommand_from ask history reset' -l session -x -d 'use the conversation of terminal PID'
    builtin complete -c shellper -n '__fish_seen_subcommand_from ask history status config eval' -l json -d 'print JSON'
    builtin complete -c shellper -n $ask -l no-commit -d 'keep the answer pending'
    builtin complete -c shellper -n '__fish_seen_subcommand_from reset' -l all -d 'delete all stored conversations and corrections'
    builtin complete -c shellper -n '__fish_seen_subcommand_from init; and not __fish_seen_subcommand_from zsh bash fish' -a 'zsh bash fish' -d shell
    builtin complete -c shellper -n '__fish_seen_subcommand_from init' -l static -d 'print lines that source the installed script'
    builtin complete -c shellper -n '__fish_seen_subcommand_from export' -l since -x -d 'only corrections made on or after DATE'
    builtin complete -c shellper -n '__fish_seen_subcommand_from export' -s o -l output -r -F -d 'write to FILE'
    builtin complete -c shellper -n '__fish_seen_subcommand_from eval' -F -d 'test set'
    builtin complete -c shellper -n '__fish_seen_subcommand_from eval' -l base-url -x -d 'model server'
    builtin complete -c shellper -n '__fish_seen_subcommand_from eval' -l model -x -d 'model name (repeat to compare)'
    builtin complete -c shellper -n '__fish_seen_subcommand_from eval' -l concurrency -x -d 'requests in flight at once'
    builtin complete -c shellper -n '__fish_seen_subcommand_from setup-model' -l quantize -x -a 'q8_0 q4_K_M fp16' -d 'how to quantize the model'
    builtin complete -c shellper -n '__fish_seen_subcommand_from setup-model' -l repo -x -a '(__fish_complete_directories)' -d 'Hugging Face repository or folder'
    builtin complete -c shellper -n '__fish_seen_subcommand_from setup-model' -l dir -x -a '(__fish_complete_directories)' -d 'where to keep the downloaded files'
    builtin complete -c shellper -n '__fish_seen_subcommand_from setup-model' -l yes -d 'do not ask before installing the download helper'
    builtin complete -c shellper -n '__fish_seen_subcommand_from explain' -F
end
__shellper_complete

# Run the client with arguments $argv, for the daemon `shellper init fish`
# named. Never with the user's folder on Python's path, where a json.py would
# run instead of the module: with the package's folder known, as
# `python -I -S` (isolated, and no site-packages scan: half the start); else
# from / (sh changes folder for it alone). --detach: in the background (sh
# forks it and exits: no job of fish's, no notice, fish's $last_pid stays the
# user's), ignoring the hangup of a terminal that closes as fish exits.
function __shellper_client
    builtin test -n "$__shellper_socket"; and set -lx SHELLPER_SOCKET $__shellper_socket
    set -l detach 0
    if builtin test "$argv[1]" = --detach
        set detach 1
        set -e argv[1]
    end
    set -l run $__shellper_python -m shellper_hook.client
    builtin test -n "$__shellper_pkg" -a -d "$__shellper_pkg/shellper_hook" # (gone: a venv rebuilt)
    and set run $__shellper_python -I -S -c 'import sys; sys.path.append(sys.argv.pop(1)); from shellper_hook.client import main; main()' $__shellper_pkg
    if builtin test $detach = 1
        command sh -c 'trap "" HUP; cd / && "$@" </dev/null >/dev/null 2>&1 &' sh $run $argv
    else if builtin test "$run[2]" = -I
        command $run $argv # isolated: the folder it runs in does not matter
    else
        command sh -c 'cd / && exec "$@"' sh $run $argv
    end
end

# This terminal is gone: the daemon forgets its conversation now.
function __shellper_exit --on-event fish_exit
    status is-interactive; or return 0 # a script that loaded us had no conversation
    set -q __shellper_used; or return 0 # nor has a terminal that never asked
    __shellper_client --detach closed $fish_pid
end

# No daemon listening: start one in the background, so the first Ctrl-G finds
# it ready. SHELLPER_AUTOSTART=0: never.
if status is-interactive; and builtin test -n "$__shellper_socket" -a ! -S "$__shellper_socket"
    and not builtin contains -- (string lower -- "$SHELLPER_AUTOSTART") 0 no false off
    __shellper_client --detach start
end
