package cmd

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"pq/config"
	"pq/spool"
)

// completeArg is the hidden first argument with which the scripts of pq
// completion ask pq for the words that may come next:
//
//	pq __complete SHELL WORD... CURRENT
//
// where the WORDs are the command line after "pq" and CURRENT is the word
// being completed (empty for a new one). It prints one candidate a line
// (for zsh "WORD:DESCRIPTION", for fish "WORD<tab>DESCRIPTION") and exits
// 0. It never runs a command's action: it reads the command definitions,
// and the spool's directory of queues, and nothing else.
const completeArg = "__complete"

// bashCompletionFlag is what urfave/cli's own shell completion appends to a
// command line. pq does not enable that completion, whose guard against
// "--" fails in a way that runs the action (urfave/cli#1993); a command
// line ending with it is refused before anything runs.
const bashCompletionFlag = "--generate-bash-completion"

// runEarly handles the command lines that must not reach urfave/cli: a
// completion request, and a stray urfave/cli completion flag. It reports
// whether it handled args, with the exit status.
func runEarly(args []string, stdio Stdio) (int, bool) {
	switch {
	case len(args) > 1 && args[len(args)-1] == bashCompletionFlag:
		return report(stdio.Err, withHint(usagef("%s is not a pq flag", bashCompletionFlag), "for shell completion, see 'pq completion --help'")), true
	case len(args) > 1 && args[1] == completeArg:
		return report(stdio.Err, runComplete(args[2:], stdio.Out)), true
	}
	return 0, false
}

// candidate is a word a completion offers, with what it is.
type candidate struct{ word, desc string }

// runComplete prints the candidates for args, "SHELL WORD... CURRENT".
func runComplete(args []string, w io.Writer) error {
	if len(args) < 2 {
		return usagef("%s: need SHELL and the words of the command line", completeArg)
	}
	shell, words := args[0], args[1:]
	cands := complete(words[:len(words)-1], words[len(words)-1])
	var b strings.Builder
	for _, c := range cands {
		switch shell {
		case "zsh":
			fmt.Fprintf(&b, "%s:%s\n", strings.ReplaceAll(c.word, ":", `\:`), c.desc)
		case "fish":
			fmt.Fprintf(&b, "%s\t%s\n", c.word, c.desc)
		default:
			fmt.Fprintf(&b, "%s\n", c.word)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// completer walks a command line as pq would parse it.
type completer struct {
	global []cli.Flag
	cmds   []*cli.Command
	cmd    *cli.Command // the command named, if any
	dashed bool         // "--" came after the command: no more flags
	npos   int          // arguments after the command name
	root   string       // --root given on the line
	config string       // --config given on the line
}

// complete returns the candidates for the word cur after words.
func complete(words []string, cur string) []candidate {
	words = joinEquals(words)
	c := &completer{global: namedFlags(globalFlags()), cmds: commands(&env{})}
	if n := len(words); n > 0 && words[n-1] == "=" {
		// bash splits --flag=VALUE at the "=": complete the value.
		words, cur = words[:n-1], words[n-2]+"="+cur
		words = words[:len(words)-1]
		cands := c.scan(words).flagValue(cur)
		for i := range cands {
			_, cands[i].word, _ = strings.Cut(cands[i].word, "=")
		}
		return cands
	}
	c.scan(words)
	if n := len(words); n > 0 && !c.dashed {
		if f := c.flag(words[n-1]); f != nil && takesValue(f) && !strings.Contains(words[n-1], "=") {
			return filter(c.values(f), cur)
		}
	}
	switch {
	case !c.dashed && strings.HasPrefix(cur, "-") && strings.Contains(cur, "="):
		return c.flagValue(cur)
	case !c.dashed && strings.HasPrefix(cur, "-"):
		return filter(c.flags(), cur)
	case c.cmd == nil && !c.dashed:
		return filter(c.commands(), cur)
	case c.cmd == nil:
		return nil
	}
	return filter(c.args(), cur)
}

// joinEquals puts back together the words "--flag", "=", "VALUE" that
// bash splits, leaving a trailing "=" alone.
func joinEquals(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		if words[i] == "=" && len(out) > 0 && i+1 < len(words) {
			out[len(out)-1] += "=" + words[i+1]
			i++
			continue
		}
		out = append(out, words[i])
	}
	return out
}

// scan reads the words before the one being completed.
func (c *completer) scan(words []string) *completer {
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--" && !c.dashed:
			c.dashed = true
		case !c.dashed && strings.HasPrefix(w, "-") && w != "-":
			f := c.flag(w)
			if f == nil || !takesValue(f) {
				continue
			}
			name, value, ok := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if !ok && i+1 < len(words) {
				i++
				value = words[i]
			}
			switch name {
			case "root":
				c.root = value
			case "config":
				c.config = value
			}
		case c.cmd == nil:
			if c.dashed {
				return c
			}
			c.cmd = c.command(w)
			if c.cmd == nil {
				c.dashed = true // an unknown command: offer nothing
			}
		default:
			c.npos++
		}
	}
	return c
}

// command returns the command called name, or nil.
func (c *completer) command(name string) *cli.Command {
	for _, cmd := range c.cmds {
		if cmd.Name == name {
			return cmd
		}
	}
	return nil
}

// flag returns the flag that the word w names, the command's or a global
// one, or nil.
func (c *completer) flag(w string) cli.Flag {
	name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
	all := c.global
	if c.cmd != nil {
		all = append(slices.Clip(c.cmd.Flags), c.global...)
	}
	for _, f := range all {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// flags lists the flags that may come next.
func (c *completer) flags() []candidate {
	var out []candidate
	all := c.global
	if c.cmd != nil {
		all = append(slices.Clip(c.cmd.Flags), c.global...)
	}
	for _, f := range all {
		desc := flagUsage(f)
		for _, n := range f.Names() {
			out = append(out, candidate{flagName(n), desc})
		}
	}
	return append(out, candidate{"--help", "show help"})
}

// commands lists the commands.
func (c *completer) commands() []candidate {
	out := make([]candidate, len(c.cmds))
	for i, cmd := range c.cmds {
		out[i] = candidate{cmd.Name, cmd.Usage}
	}
	return out
}

// flagValue completes cur, "--flag=VALUE", with the flag's values.
func (c *completer) flagValue(cur string) []candidate {
	name, value, _ := strings.Cut(cur, "=")
	f := c.flag(name)
	if f == nil || !takesValue(f) {
		return nil
	}
	var out []candidate
	for _, v := range filter(c.values(f), value) {
		out = append(out, candidate{name + "=" + v.word, v.desc})
	}
	return out
}

// values lists the values a flag may take, going by its placeholder:
// queue names for QUEUE, the states for STATE, and nothing otherwise (the
// shell then completes file names).
func (c *completer) values(f cli.Flag) []candidate {
	ph := placeholder(f)
	switch {
	case strings.HasPrefix(ph, "QUEUE"):
		return c.queues()
	case ph == "STATE":
		return []candidate{{"ready", "state"}, {"delayed", "state"}, {"inflight", "state"}, {"dead", "state"}}
	}
	return nil
}

// args lists the candidates for the next argument of the command: the
// spool's queues, but for the commands that take no queue.
func (c *completer) args() []candidate {
	switch c.cmd.Name {
	case "completion":
		if c.npos == 0 {
			return []candidate{{"bash", "shell"}, {"zsh", "shell"}, {"fish", "shell"}}
		}
		return nil
	case "version", "man":
		return nil
	case "send":
		if c.npos > 0 {
			return nil // FILEs
		}
	}
	return c.queues()
}

// queues lists the spool's queues, reading only its directory, as pq ls
// does. A spool that cannot be found or read offers none.
func (c *completer) queues() []candidate {
	path, required := config.Locate(c.config)
	cfg, err := config.Load(path, required)
	if err != nil {
		return nil
	}
	root, err := resolveRoot(c.root, cfg)
	if err != nil {
		return nil
	}
	names, err := listQueues(root, cfg)
	if err != nil {
		return nil
	}
	out := make([]candidate, len(names))
	for i, n := range names {
		out[i] = candidate{n, "queue"}
	}
	return out
}

// listQueues lists the queues of root: a spool's directory, or a NATS
// root's streams.
func listQueues(root string, cfg config.Config) ([]string, error) {
	if !natsRoot(root) {
		return spool.Queues(root)
	}
	return natsQueueNames(root, cfg)
}

// filter keeps the candidates that start with prefix.
func filter(cands []candidate, prefix string) []candidate {
	var out []candidate
	for _, c := range cands {
		if strings.HasPrefix(c.word, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// takesValue reports whether f takes a value.
func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue() && !isBoolFlag(f)
}

// flagUsage returns f's usage with its placeholder's back quotes removed.
func flagUsage(f cli.Flag) string {
	d, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	return strings.ReplaceAll(d.GetUsage(), "`", "")
}

// placeholder returns the word in back quotes in f's usage, as urfave/cli
// shows it after the flag's name (`DUR`), or "" for none.
func placeholder(f cli.Flag) string {
	d, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	_, rest, ok := strings.Cut(d.GetUsage(), "`")
	if !ok {
		return ""
	}
	ph, _, ok := strings.Cut(rest, "`")
	if !ok {
		return ""
	}
	return ph
}
