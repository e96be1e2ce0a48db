# shellper for fish through fisher: `fisher install ~/src/shellper/shell/fish`
# (this folder of a clone: fisher installs a local folder, or the top of a
# repository, not a folder inside one). fisher copies this file to
# ~/.config/fish/conf.d/, which fish reads at every start.
#
# It loads the integration of the installed shellper package, as the file
# install.sh puts there does: the init file install.sh wrote (the settings
# and the installed shellper.fish: a file read), else `shellper init fish`.
# So the script always matches the daemon that answers it. Install the
# package first (./install.sh --no-rc); without it, one line says so and no
# key is bound. Its variables are local to the `if` block.
if status is-interactive
    # install.sh writes init.fish to shellper_hook/paths.py data_dir().
    set -l __shellper_init $HOME/.local/share/shellper/init.fish
    if builtin test -n "$XDG_DATA_HOME"
        set __shellper_init $XDG_DATA_HOME/shellper/init.fish
    else if builtin test -r "$HOME/Library/Application Support/shellper/init.fish"
        set __shellper_init "$HOME/Library/Application Support/shellper/init.fish" # macOS
    end
    if builtin test -r $__shellper_init
        builtin source $__shellper_init
    else if command -q shellper
        # From / (sh changes folder for it alone): with an empty entry in
        # PYTHONPATH, Python would import the current folder's files.
        command sh -c 'cd / && exec "$0" init fish' (command -s shellper) | builtin source
    else if builtin test -x $HOME/.local/bin/shellper
        command sh -c 'cd / && exec "$0" init fish' $HOME/.local/bin/shellper | builtin source
    else
        builtin printf '%s\n' "shellper: the plugin is loaded, but the shellper command is not installed: run ./install.sh --no-rc in a clone of shellper, then open a new terminal" >&2
    end
    # `fisher remove` emits shellper_uninstall: shellper leaves the running shell too.
    if builtin functions -q __shellper_unload
        function __shellper_fisher_uninstall --on-event shellper_uninstall
            __shellper_unload
        end
    end
end
