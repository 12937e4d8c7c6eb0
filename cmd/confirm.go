package cmd

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// confirm asks question on stderr and reads the answer from stdin, for
// the commands that delete (pq purge, pq delete): it goes on only for "y"
// or "yes". With yes set it asks nothing. When stdin is not a terminal it
// asks nothing either and refuses, with a hint to pass --yes: a script
// must say what it means.
func confirm(e *env, yes bool, command, question string) error {
	if yes {
		return nil
	}
	in, ok := e.In.(*os.File)
	if !ok || !isTerminal(in) {
		return withHint(fmt.Errorf("%s: stdin is not a terminal to ask on; nothing deleted", command),
			"pass --yes to %s without being asked", command)
	}
	fmt.Fprintf(e.Err, "pq: %s [y/N] ", question)
	answer, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%s: not confirmed; nothing deleted", command)
}

// countsText says how many messages of each state a summary holds, as
// "3 ready, 1 delayed and 2 dead", leaving out the states at zero; "no
// messages" when there is none.
func countsText(parts ...countPart) string {
	var out []string
	for _, p := range parts {
		if p.n > 0 {
			out = append(out, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	switch len(out) {
	case 0:
		return "no messages"
	case 1:
		return out[0]
	}
	return strings.Join(out[:len(out)-1], ", ") + " and " + out[len(out)-1]
}

// countPart is a count and what it counts, for countsText.
type countPart struct {
	n    int
	what string
}
