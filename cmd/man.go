package cmd

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// exitStatuses describes every exit status of cmd/exit.go, for the man
// page (a test checks that each Exit constant is here).
var exitStatuses = []struct {
	name    string
	code    int
	meaning string
}{
	{"ExitOK", ExitOK, "Success."},
	{"ExitNothing", ExitNothing, "Nothing to receive: the queue was empty, or --wait timed out; pq peek on a queue with nothing ready; pq request timed out or was interrupted (the request is withdrawn); pq reply to a request that has a reply already."},
	{"ExitError", ExitError, "Any error: bad usage, a bad queue name, a missing queue, an I/O failure, a wait that fails other than by its timeout or a signal; pq request whose request was dead-lettered. The error is one line on stderr, pq: error: ..., sometimes followed by a line pq: hint: ..."},
	{"ExitFull", ExitFull, "Queue full: a send refused because it would take the queue past its max_messages or max_bytes, or leave less free space than its min_free; the ids of what fitted were printed."},
	{"ExitDeadLettered", ExitDeadLettered, "A worker run with --fail-on-dead-letter dead-lettered at least one message (and otherwise went well)."},
}

// manEnvironment lists the variables pq reads, then those it gives the
// commands that pq recv --exec runs.
var manEnvironment = [][2]string{
	{"PQ_ROOT", "The spool directory, when --root is not given."},
	{"PQ_CONFIG", "The configuration file, when --config is not given; it must exist."},
	{"XDG_DATA_HOME", "The spool is $XDG_DATA_HOME/pq (~/.local/share/pq) when neither --root, PQ_ROOT nor the configuration's root names one."},
	{"XDG_CONFIG_HOME", "The configuration file is $XDG_CONFIG_HOME/pq/config.toml (~/.config/pq/config.toml), if it exists, when neither --config nor PQ_CONFIG names one."},
	{"PQ_QUEUE, PQ_ID, PQ_ATTEMPT, PQ_PRIORITY, PQ_GROUP, PQ_FILE", "Given to each command that pq recv --exec runs: the queue, the message id, the attempt (1 the first time), the priority, the group and the path of the claimed message file. PQ_ROOT is the spool root."},
	{"PQ_SENDER, PQ_SENDER_UID", "Given to the command: who sent the message, as the kernel knows it (the owner of its file): a user name (or the uid when /etc/passwd does not list it), and the uid."},
	{"PQ_HEADER_KEY", "Given to the command for each header of the message, KEY upper-cased with - as _."},
	{"PQ_REPLY_TO, PQ_REPLY_QUEUE", "Given to the command for a request: its id, and the queue where pq reply sends its reply."},
	{"PQ_OUTPUT_HEADERS", "With --to, a file where the command may write KEY=VALUE lines: headers for its output."},
}

// manExamples are the examples of running pq under systemd and cron,
// after those of the commands: what each does, then the example.
var manExamples = [][2]string{
	{"Run a worker for the queue mail under systemd, with the units of pq's docs/systemd, and follow its log:",
		"systemctl enable --now pq-worker@mail.service\njournalctl -u pq-worker@mail.service -f"},
	{"Drain the queue photos every five minutes from cron, skipping a run while the last one drains:",
		"*/5 * * * *  flock -n /run/lock/pq-photos pq recv --exec /etc/pq/handlers/photos -j 2 photos"},
}

// manFiles lists the files pq uses.
var manFiles = [][2]string{
	{"~/.config/pq/config.toml", "The configuration file (TOML): root, [defaults] and [queue.NAME] tables with max_attempts, backoff_min, backoff_max, job_timeout, grace, rate, ttl, on_expiry, dedup_window, allow_senders, max_messages, max_bytes, min_free, dlq_max_count and dlq_max_age."},
	{"~/.local/share/pq/QUEUE/", "A queue: tmp/ (messages being written), new/ (ready), cur/ (claimed), dlq/ (dead letters, with ID.reason files), and pq's own dot files."},
}

// allCommands is commands, which pq man calls through this variable since
// commands itself lists pq man (an initialization cycle otherwise).
var allCommands func(*env) []*cli.Command

func init() { allCommands = commands }

func manCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print the manual page pq(1), in roff",
		UsageText: "pq man",
		Description: "Prints the manual page pq(1), made from the same definitions as --help,\n" +
			"in the roff format that man reads.\n\n" +
			"Examples:\n" +
			"  pq man | man -l -\n" +
			"  pq man > /usr/local/share/man/man1/pq.1",
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return withHint(usagef("man: takes no arguments"), "usage: %s", c.Command.UsageText)
			}
			if _, err := io.WriteString(e.Out, manPage(allCommands(e), manVersion())); err != nil {
				return fmt.Errorf("write man page: %w", err)
			}
			return nil
		},
	}
}

// manVersion is the version printed in the page's footer.
func manVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// manPage renders pq(1) for the commands cmds.
func manPage(cmds []*cli.Command, ver string) string {
	m := &manWriter{}
	m.line(`.TH PQ 1 "" %s "User Commands"`, quoteArg("pq "+ver))
	m.section("NAME")
	m.line(`pq \- a message queue in a spool directory`)
	m.section("SYNOPSIS")
	m.line(`.B pq`)
	m.line(`[\fB\-\-root\fR \fIDIR\fR] [\fB\-\-config\fR \fIFILE\fR] \fICOMMAND\fR [\fIOPTIONS\fR] [\fIARGS\fR]`)
	m.line(".PP")
	m.line(".nf")
	for _, c := range cmds {
		for _, u := range strings.Split(c.UsageText, "\n") {
			m.text(u)
		}
	}
	m.line(".fi")
	m.section("DESCRIPTION")
	m.paragraphs("pq is a point-to-point message queue that lives in a spool directory. There is no server: a queue is a directory and a message is a file. Producers run pq send, consumers run pq recv, and each message goes to exactly one consumer, oldest first. A message is on disk (fsynced, file and directory) before pq send prints its id; a consumer that dies while it holds a message loses nothing.\n\n" +
		"Flags may come before or after the queue name; -- ends the flags. Every command takes the global options below, before or after the command name.")
	m.section("GLOBAL OPTIONS")
	for _, f := range namedFlags(globalFlags()) {
		m.flag(f)
	}
	m.flag(cli.HelpFlag)
	m.section("COMMANDS")
	for _, c := range cmds {
		m.command(c)
	}
	m.section("EXIT STATUS")
	for _, s := range exitStatuses {
		m.item(fmt.Sprintf(`\fB%d\fR`, s.code), s.meaning)
	}
	m.section("ENVIRONMENT")
	for _, v := range manEnvironment {
		m.item(`\fB`+escape(v[0])+`\fR`, v[1])
	}
	m.section("FILES")
	for _, f := range manFiles {
		m.item(`\fI`+escape(f[0])+`\fR`, f[1])
	}
	m.section("EXAMPLES")
	for _, c := range cmds {
		for _, ex := range examples(c.Description) {
			m.line(".PP")
			m.line(".nf")
			m.text(ex)
			m.line(".fi")
		}
	}
	for _, ex := range manExamples {
		m.line(".PP")
		m.text(ex[0])
		m.line(".RS 4")
		m.line(".nf")
		for _, l := range strings.Split(ex[1], "\n") {
			m.text(l)
		}
		m.line(".fi")
		m.line(".RE")
	}
	m.section("SEE ALSO")
	m.line(`\fBcrontab\fR(5), \fBsystemd.service\fR(5), \fBsystemd.path\fR(5), \fBflock\fR(2)`)
	return m.b.String()
}

// manWriter builds a roff document.
type manWriter struct{ b strings.Builder }

// line writes a line of roff as it is.
func (m *manWriter) line(format string, args ...any) {
	fmt.Fprintf(&m.b, format+"\n", args...)
}

// text writes a line of plain text, escaped.
func (m *manWriter) text(s string) {
	m.b.WriteString(escape(s) + "\n")
}

// section starts a section.
func (m *manWriter) section(name string) { m.line(".SH %s", quoteArg(name)) }

// paragraphs writes text whose paragraphs are separated by empty lines.
func (m *manWriter) paragraphs(text string) {
	for _, p := range strings.Split(text, "\n\n") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		m.line(".PP")
		for _, l := range strings.Split(p, "\n") {
			m.text(strings.TrimSpace(l))
		}
	}
}

// item writes a tagged paragraph: tag (roff) over text (plain).
func (m *manWriter) item(tag, text string) {
	m.line(".TP")
	m.line("%s", tag)
	m.text(text)
}

// command writes a command's usage, description and options.
func (m *manWriter) command(c *cli.Command) {
	m.line(".SS %s", quoteArg("pq "+c.Name))
	m.line(".nf")
	for _, u := range strings.Split(c.UsageText, "\n") {
		m.text(u)
	}
	m.line(".fi")
	m.paragraphs(withoutExamples(c.Description))
	for _, f := range c.Flags {
		m.flag(f)
	}
}

// flag writes one option with its names, placeholder, usage and default.
func (m *manWriter) flag(f cli.Flag) {
	var names []string
	for _, n := range f.Names() {
		names = append(names, `\fB`+escape(flagName(n))+`\fR`)
	}
	tag := strings.Join(names, ", ")
	if takesValue(f) {
		ph := placeholder(f)
		if ph == "" {
			ph = "VALUE"
		}
		tag += ` \fI` + escape(ph) + `\fR`
	}
	text := flagUsage(f)
	if d := defaultText(f); d != "" {
		text += " (default: " + d + ")"
	}
	m.item(tag, text)
}

// defaultText returns the default that --help shows for f, or "" for none
// (a boolean, an empty string or list).
func defaultText(f cli.Flag) string {
	d, ok := f.(cli.DocGenerationFlag)
	if !ok || !takesValue(f) {
		return ""
	}
	s := d.GetDefaultText()
	if s == "[]" || s == `""` {
		return ""
	}
	return s
}

// examples returns the example lines of a command's description: those
// after a line "Example:" or "Examples:" (or on it), up to an empty line.
func examples(desc string) []string {
	_, rest, ok := cutExamples(desc)
	if !ok {
		return nil
	}
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			break
		}
		out = append(out, l)
	}
	return out
}

// withoutExamples returns a description without its examples.
func withoutExamples(desc string) string {
	before, _, _ := cutExamples(desc)
	return before
}

// cutExamples splits desc at its "Example:" or "Examples:" line.
func cutExamples(desc string) (before, after string, found bool) {
	lines := strings.Split(desc, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		for _, p := range []string{"Examples:", "Example:"} {
			if strings.HasPrefix(t, p) {
				rest := append([]string{strings.TrimSpace(strings.TrimPrefix(t, p))}, lines[i+1:]...)
				if rest[0] == "" {
					rest = rest[1:]
				}
				return strings.Join(lines[:i], "\n"), strings.Join(rest, "\n"), true
			}
		}
	}
	return desc, "", false
}

// escape makes s plain text in roff: backslashes and hyphens escaped, and
// a line that starts with a control character guarded.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// quoteArg quotes a macro argument.
func quoteArg(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"`
}
