# fish completion for member-watch
# Load it with:  member-watch completion fish | source
# or keep it:    member-watch completion fish > ~/.config/fish/completions/member-watch.fish
#
# The words typed so far go to `member-watch __complete`; see member-watch.bash for its answer.
function __member_watch_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l out ($tokens[1] __complete $tokens[2..] $current 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    if set -q out[1]
        printf '%s\n' $out
    else if test "$directive" = 0
        __fish_complete_path $current
    end
end
complete -c member-watch -f -a '(__member_watch_complete)'
