# shellper as a zsh plugin, for oh-my-zsh, zinit, antidote and zplug (the
# README's "Plugin managers" section has the line for each).
#
# It loads the integration of the installed shellper package, as the rc block
# of install.sh does: the init file install.sh wrote (the settings and the
# installed shellper.zsh: a file read), else `shellper init zsh` (a Python
# start). So the script always matches the daemon that answers it. Install
# the package first (./install.sh --no-rc); without it this file says so once,
# at the first prompt, and binds no key.
#
# Managers source this file inside a function (oh-my-zsh's _omz_source,
# zinit's .zinit-load-plugin, antidote-load, zplug's load): all of it runs in
# an anonymous function, so it leaves no variable behind, and the
# integration declares its own with typeset -g. The body is a string parsed
# with aliases off (only quoted words outside it), so your aliases cannot
# change it, whether or not the manager turns them off (zinit does).
() {
  'builtin' 'emulate' -L zsh -o no_aliases
  'builtin' 'eval' '
    local data=${XDG_DATA_HOME:-$HOME/.local/share}/shellper cmd
    # install.sh writes init.zsh to shellper_hook/paths.py data_dir().
    [[ $OSTYPE == darwin* && -z ${XDG_DATA_HOME-} ]] && data="$HOME/Library/Application Support/shellper"
    if [[ -r $data/init.zsh ]]; then
      builtin source "$data/init.zsh"
      return
    fi
    cmd=${commands[shellper]:-$HOME/.local/bin/shellper}
    if [[ -x $cmd ]]; then
      builtin eval "$(builtin cd -q / && "$cmd" init zsh)"
      return
    fi
    # Said at the first prompt: zplug sends what a plugin prints while it
    # loads to a log file, and zinit with the silent ice to /dev/null.
    __shellper_missing() {
      builtin emulate -L zsh -o no_aliases
      add-zsh-hook -d precmd __shellper_missing
      builtin unfunction __shellper_missing
      builtin print -ru2 -- "shellper: the plugin is loaded, but the shellper command is not installed: run ./install.sh --no-rc in a clone of shellper, then open a new terminal"
    }
    builtin autoload -Uz add-zsh-hook
    add-zsh-hook precmd __shellper_missing
  '
}
