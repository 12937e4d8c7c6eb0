package cmd

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// completionScript returns the script of shell. Each calls back
// "pq __complete SHELL WORD..." (see completeArg) for the candidates, so
// that the commands, flags and queues offered are always those of the pq
// that runs.
func completionScript(shell string) (string, bool) {
	switch shell {
	case "bash":
		return bashCompletion, true
	case "zsh":
		return zshCompletion, true
	case "fish":
		return fishCompletion, true
	}
	return "", false
}

const bashCompletion = `# bash completion for pq: commands, flags and queue names.
# Load it with: source <(pq completion bash)
_pq_complete() {
	local IFS=$'\n'
	COMPREPLY=($(command "${COMP_WORDS[0]}" __complete bash "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _pq_complete pq
`

const zshCompletion = `#compdef pq
# zsh completion for pq: commands, flags and queue names.
# Load it with: source <(pq completion zsh), after compinit; or save it as
# _pq in a directory of $fpath.
_pq() {
	local -a cands
	cands=("${(@f)$(command ${words[1]} __complete zsh "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	cands=(${cands:#})
	if (( ${#cands} )); then
		_describe -t pq 'pq' cands
	else
		_files
	fi
}
if [[ "${funcstack[1]}" == _pq ]]; then
	_pq "$@"
else
	compdef _pq pq
fi
`

const fishCompletion = `# fish completion for pq: commands, flags and queue names.
# Load it with: pq completion fish | source
function __pq_complete
	set -l words (commandline -opc) (commandline -ct)
	set -l cands (command $words[1] __complete fish $words[2..-1] 2>/dev/null)
	if test (count $cands) -eq 0
		__fish_complete_path (commandline -ct)
	else
		printf '%s\n' $cands
	end
end
complete -c pq -f -a '(__pq_complete)'
`

func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script",
		UsageText: "pq completion bash|zsh|fish",
		Description: "Prints the completion script for the shell: it completes commands, flags\n" +
			"and the spool's queue names by asking pq itself, which only reads the\n" +
			"spool's directory: completing never runs a command, claims or changes\n" +
			"anything.\n\n" +
			"Examples:\n" +
			"  source <(pq completion bash)        # in ~/.bashrc\n" +
			"  pq completion zsh > ~/.zfunc/_pq    # a directory of $fpath\n" +
			"  pq completion fish > ~/.config/fish/completions/pq.fish",
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return withHint(usagef("completion: need one shell: bash, zsh or fish"), "usage: %s", c.Command.UsageText)
			}
			return writeCompletion(e.Out, c.Args().First())
		},
	}
}

// writeCompletion prints the completion script of shell.
func writeCompletion(w io.Writer, shell string) error {
	s, ok := completionScript(shell)
	if !ok {
		return withHint(usagef("completion: unknown shell %q", shell), "pq completes bash, zsh and fish")
	}
	if _, err := io.WriteString(w, s); err != nil {
		return fmt.Errorf("write completion script: %w", err)
	}
	return nil
}
