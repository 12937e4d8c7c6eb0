package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"pq/config"
	"pq/seal"
	"pq/spool"
)

// Stdio holds the streams a command reads and writes.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// env is what every command gets: its streams and the resolved spool.
type env struct {
	Stdio
	root string
	cfg  config.Config
	// warnLog, if not nil, takes the queues' warnings instead of the
	// default lines on Err: a worker's, in its log format.
	warnLog *slog.Logger
	// ids open encrypted queues' messages; nil when none was given.
	ids *seal.Identities
	// command is the name of the command that runs, for messages.
	command string
	// natsCreds is the credentials file for a NATS root; "" for none.
	natsCreds string
	// nats is what a run keeps of a NATS root (see nats.go).
	nats natsState
	// warnedReplicas holds the queues that pq stat warned about.
	warnedReplicas map[string]bool
	// allowNetworkFS lets receivers claim from a network file system.
	allowNetworkFS bool
}

// queue opens the queue called name under the spool root. On a NATS root
// it refuses: the command, which needs a spool, is not supported there.
func (e *env) queue(name string) (*spool.Queue, error) {
	if natsRoot(e.root) {
		return nil, unsupported(e, "pq "+e.command)
	}
	log := e.warnLog
	if log == nil {
		log = slog.New(newWarnHandler(e.Err))
	}
	return spool.Open(e.root, name, spool.Options{Logger: log, Settings: e.cfg.Queue(name), Identities: e.ids, AllowNetworkFS: e.allowNetworkFS})
}

// existingQueue opens the queue called name and checks that it exists.
func (e *env) existingQueue(name string) (*spool.Queue, error) {
	q, err := e.queue(name)
	if err != nil {
		return nil, err
	}
	if err := q.Check(); err != nil {
		return nil, err
	}
	return q, nil
}

// Main runs pq with the command line args (args[0] is the program name)
// and returns the exit status.
func Main(args []string, stdio Stdio) int {
	stdio, dups := pipeSafe(stdio)
	defer func() {
		for _, f := range dups {
			f.Close()
		}
	}()
	if code, done := runEarly(args, stdio); done {
		return code
	}
	ctx := context.Background()
	e := &env{Stdio: stdio, command: commandName(args)}
	app := newAppWith(e, commandsFor(e, args))
	args, err := reorder(app, args)
	if err != nil {
		return report(stdio.Err, err)
	}
	if versionFlagged(args) {
		return report(stdio.Err, writeVersion(stdio.Out))
	}
	defer e.closeNATS()
	return report(stdio.Err, app.RunContext(ctx, args))
}

// pipeSafe makes writes to a closed stdout or stderr come back as EPIPE
// errors, so that a message being received goes back to its queue, instead
// of the default SIGPIPE death. The Go runtime kills a program that gets
// EPIPE on descriptor 1 or 2 unless it watches SIGPIPE with os/signal, and
// watching any signal costs a thread of its own for the rest of the run, a
// tenth of a short pq's time; so pq writes through duplicates of those
// descriptors instead, where EPIPE is an ordinary error (see os/signal).
// It returns the duplicates too, for the caller to close.
func pipeSafe(stdio Stdio) (Stdio, []*os.File) {
	var dups []*os.File
	for _, w := range []*io.Writer{&stdio.Out, &stdio.Err} {
		f, ok := (*w).(*os.File)
		if !ok || (f != os.Stdout && f != os.Stderr) {
			continue
		}
		std := uintptr(1)
		if f == os.Stderr {
			std = 2
		}
		fd, err := unix.FcntlInt(std, unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
			continue
		}
		dup := os.NewFile(uintptr(fd), f.Name())
		dups = append(dups, dup)
		*w = dup
	}
	return stdio, dups
}

// withSignals returns a context cancelled by SIGINT or SIGTERM, for the
// commands that stop cleanly on them. Watching signals costs a thread (see
// pipeSafe): the commands that end at once keep the default, or ignore the
// signals.
func withSignals(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// builders lists pq's commands, in the order of its help, with the
// functions that build them.
var builders = []struct {
	name  string
	build func(*env) *cli.Command
}{
	{"send", sendCommand},
	{"recv", recvCommand},
	{"request", requestCommand},
	{"reply", replyCommand},
	{"init", initCommand},
	{"dlq", dlqCommand},
	{"retry", retryCommand},
	{"mv", mvCommand},
	{"recover", recoverCommand},
	{"stat", statCommand},
	{"ls", lsCommand},
	{"peek", peekCommand},
	{"rm", rmCommand},
	{"purge", purgeCommand},
	{"pause", pauseCommand},
	{"resume", resumeCommand},
	{"delete", deleteCommand},
	{"version", versionCommand},
	{"completion", completionCommand},
	{"man", manCommand},
}

// commands builds every command around e.
func commands(e *env) []*cli.Command {
	cmds := make([]*cli.Command, len(builders))
	for i, b := range builders {
		cmds[i] = b.build(e)
	}
	return cmds
}

// commandsFor builds the command that args name, alone: a run of pq needs
// no other, and each costs its flags. Every command is built when args name
// none of them (help, a typo that deserves a suggestion).
func commandsFor(e *env, args []string) []*cli.Command {
	name := commandName(args)
	for _, b := range builders {
		if b.name == name {
			return []*cli.Command{b.build(e)}
		}
	}
	return commands(e)
}

// commandName returns the first argument after the global flags and their
// values, or "" if there is none.
func commandName(args []string) string {
	global := flagTable(namedFlags(globalFlags()))
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "-" || !strings.HasPrefix(a, "-") {
			return a
		}
		takesValue, ok := lookupFlag(global, a)
		if !ok || a == "--" {
			return ""
		}
		if takesValue && !strings.Contains(a, "=") {
			i++
		}
	}
	return ""
}

// globalFlags returns the flags that come before the command.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Usage: "spool directory `DIR` holding the queues, or nats://HOST:PORT[,HOST:PORT...] for NATS JetStream", DefaultText: "$PQ_ROOT, the config's root, or $XDG_DATA_HOME/pq"},
		&cli.StringFlag{Name: "nats-creds", Usage: "NATS credentials `FILE` for a nats:// or tls:// root", DefaultText: "$PQ_NATS_CREDS, or the config's nats_creds"},
		&cli.StringFlag{Name: "config", Usage: "configuration `FILE`", DefaultText: "$PQ_CONFIG, or $XDG_CONFIG_HOME/pq/config.toml if it exists"},
		&cli.BoolFlag{Name: "version", Usage: "print the version and build information, as pq version does", DisableDefaultText: true},
	}
}

// newApp builds the cli.App with every command.
func newApp(e *env) *cli.App {
	return newAppWith(e, commands(e))
}

// newAppWith builds the cli.App with the commands given. Output that
// urfave/cli prints by itself goes to stderr, and its errors come back to
// Main instead of exiting.
func newAppWith(e *env, cmds []*cli.Command) *cli.App {
	app := &cli.App{
		Name:            "pq",
		Usage:           "a message queue in a spool directory",
		UsageText:       "pq [--root DIR] [--config FILE] COMMAND [OPTIONS] QUEUE ...",
		HideHelpCommand: true,
		Writer:          e.Err,
		ErrWriter:       e.Err,
		ExitErrHandler:  func(*cli.Context, error) {},
		// A header's value may hold commas: -H to=a,b is one header.
		DisableSliceFlagSeparator: true,
		OnUsageError:              onUsageError,
		Flags:                     namedFlags(globalFlags()),
		Before: func(c *cli.Context) error {
			path, required := config.Locate(c.String("config"))
			cfg, err := config.Load(path, required)
			if err != nil {
				return err
			}
			e.cfg = cfg
			root, err := resolveRoot(c.String("root"), cfg)
			if err != nil {
				return err
			}
			if natsRoot(root) {
				e.root = root
				e.natsCreds = firstSet(c.String("nats-creds"), os.Getenv("PQ_NATS_CREDS"), cfg.NATSCreds)
				return nil
			}
			if c.IsSet("nats-creds") {
				return usagef("--nats-creds goes with a nats:// or tls:// root, not the spool %s", root)
			}
			// Absolute, so that paths handed to commands (PQ_FILE)
			// work from any directory.
			e.root, err = filepath.Abs(root)
			return err
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return withHint(usagef("unknown command %q", c.Args().First()), "run 'pq --help' for the list of commands")
			}
			cli.ShowAppHelp(c)
			return usagef("no command given")
		},
		Commands: cmds,
	}
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError
		c.Flags = namedFlags(c.Flags)
	}
	return app
}

// onUsageError turns urfave/cli's flag errors into pq's usage errors.
func onUsageError(_ *cli.Context, err error, _ bool) error {
	return withHint(usagef("%s", strings.TrimPrefix(err.Error(), "flag provided but not defined: ")), "run 'pq COMMAND --help' for its options")
}

// onQueue returns the action of a command that takes one existing QUEUE
// and does do to it.
func onQueue(e *env, do func(*spool.Queue) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		name, err := oneQueue(c)
		if err != nil {
			return err
		}
		q, err := e.existingQueue(name)
		if err != nil {
			return err
		}
		return do(q)
	}
}

// oneQueue returns the single QUEUE argument of a command.
func oneQueue(c *cli.Context) (string, error) {
	switch c.Args().Len() {
	case 0:
		return "", withHint(usagef("%s: missing QUEUE", c.Command.Name), "usage: %s", c.Command.UsageText)
	case 1:
		return c.Args().First(), nil
	default:
		return "", withHint(usagef("%s: too many arguments: %q", c.Command.Name, c.Args().Slice()[1:]), "usage: %s", c.Command.UsageText)
	}
}

// reorder moves the flags that follow a command's arguments in front of
// them, since urfave/cli v2 stops parsing flags at the first argument, and
// moves the global flags given after the command name in front of it. "--"
// still ends the flags. It uses each command's own flag table to know which
// flags take a value.
func reorder(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	global := flagTable(app.Flags)
	global["help"], global["h"] = false, false
	out := []string{args[0]}
	i := 1
	// Global flags before the command.
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" && args[i] != "--" {
		n, err := takeFlag(global, args, i)
		if err != nil {
			return nil, err
		}
		out = append(out, args[i:i+n]...)
		i += n
	}
	if i >= len(args) || args[i] == "--" {
		return append(out, args[i:]...), nil
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return append(out, args[i:]...), nil
	}
	local := flagTable(cmd.Flags)
	local["help"], local["h"] = false, false
	var flags, pos, globals []string
	name := args[i]
	for i++; i < len(args); {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			if _, ok := lookupFlag(global, a); ok {
				n, err := takeFlag(global, args, i)
				if err != nil {
					return nil, err
				}
				globals = append(globals, args[i:i+n]...)
				i += n
				continue
			}
			n, err := takeFlag(local, args, i)
			if err != nil {
				return nil, withHint(usagef("%s: %v", name, err), "run 'pq %s --help' for its options", name)
			}
			flags = append(flags, args[i:i+n]...)
			i += n
		default:
			pos = append(pos, a)
			i++
		}
	}
	out = append(out, globals...)
	out = append(out, name)
	out = append(out, flags...)
	if len(pos) > 0 {
		out = append(out, "--")
	}
	return append(out, pos...), nil
}

// flagTable maps every name of every flag to whether it takes a value.
func flagTable(flags []cli.Flag) map[string]bool {
	t := map[string]bool{}
	for _, f := range flags {
		isBool := isBoolFlag(f)
		for _, n := range f.Names() {
			t[n] = !isBool
		}
	}
	return t
}

// lookupFlag finds the flag that argument a names.
func lookupFlag(t map[string]bool, a string) (bool, bool) {
	name := strings.TrimLeft(a, "-")
	name, _, _ = strings.Cut(name, "=")
	v, ok := t[name]
	return v, ok
}

// takeFlag returns how many arguments the flag at args[i] spans.
func takeFlag(t map[string]bool, args []string, i int) (int, error) {
	a := args[i]
	takesValue, ok := lookupFlag(t, a)
	if !ok {
		return 0, fmt.Errorf("unknown flag %s", a)
	}
	if !takesValue || strings.Contains(a, "=") {
		return 1, nil
	}
	if i+1 >= len(args) {
		return 0, fmt.Errorf("flag %s needs a value", a)
	}
	return 2, nil
}

// isUsage reports whether err is an error in the command line.
func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}
