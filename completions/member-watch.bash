# bash completion for member-watch
# Load it with:  source <(member-watch completion bash)      (e.g. in ~/.bashrc)
#
# The words typed so far go to `member-watch __complete`, which knows the commands, flags and values. Its answer:
# one candidate a line (value, then optionally a tab and a description), then `:0` (file names may be completed
# when there is no candidate) or `:4` (they may not).
_member_watch_complete() {
    local line=${COMP_LINE:0:COMP_POINT} cur prefix out candidate directive
    local -a words
    # The words as typed: bash's own COMP_WORDS are also split at '=' and ':' (--context=arn:aws:...).
    read -r -a words <<<"$line"
    if [[ $line =~ [[:space:]]$ ]]; then words+=(""); fi
    cur=${words[${#words[@]}-1]}
    out=$("${words[0]}" __complete "${words[@]:1}" 2>/dev/null) || return 0
    directive=${out##*:}
    # What bash replaces is its own current word only: drop the part of ours before it.
    prefix=${cur%"${COMP_WORDS[COMP_CWORD]}"}
    COMPREPLY=()
    while IFS= read -r candidate; do
        [[ -z $candidate || $candidate == :* ]] && continue
        candidate=${candidate%%$'\t'*}
        COMPREPLY+=("${candidate#"$prefix"}")
    done <<<"$out"
    # `complete -o default` completes file names when the answer is empty, unless the answer forbids it.
    if [[ $directive != 0 ]]; then
        compopt +o default 2>/dev/null
    fi
    return 0
}
complete -o default -F _member_watch_complete member-watch
