#compdef member-watch
# zsh completion for member-watch
# Load it with:  source <(member-watch completion zsh)       (e.g. in ~/.zshrc, after compinit)
#
# The words typed so far go to `member-watch __complete`; see member-watch.bash for its answer.
_member_watch() {
    local -a out described
    local line value description directive
    out=("${(@f)$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    [[ ${out[-1]} == :* ]] || return 1
    directive=${out[-1]#:}
    for line in "${(@)out[1,-2]}"; do
        [[ -z $line ]] && continue
        value=${line%%$'\t'*}
        description=
        [[ $line == *$'\t'* ]] && description=${line#*$'\t'}
        # _describe reads value:description, so a colon inside the value is escaped.
        described+=("${value//:/\\:}${description:+:$description}")
    done
    if (( ${#described} )); then
        _describe -t values 'member-watch' described
    elif [[ $directive == 0 ]]; then
        _files
    fi
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
    _member_watch "$@"
else
    compdef _member_watch member-watch
fi
