package cmd_test

// The command-line tests run pq for real, as a separate process, through the
// scripts in testdata/script (see github.com/rogpeppe/go-internal/testscript).
// Every script is documentation too: it starts with a comment saying what it
// shows. Run one script with
//
//	go test ./cmd -run TestScripts/NAME
//
// and rewrite the expected outputs of failing cmp lines with -update.
//
// TestScripts runs every script on a spool ($PQ_ROOT is $WORK/spool).
// TestScriptsOnNATS runs those named in natsScripts, below, a second time
// with $PQ_ROOT naming an embedded NATS server of their own
// (-run TestScriptsOnNATS/NAME). To run a script on NATS too, add its name
// there; a script that only makes sense on NATS starts with
// "[!nats] skip". In a script that runs on both:
//
//   - [nats] holds on NATS, [!nats] on a spool: guard with [!nats] what
//     looks at the spool's files or needs what only a spool has, and check
//     with [nats] lines what differs by design (a feature refused with exit
//     status 2 and its one line);
//   - $IDRE is a regular expression matching one message id (a stream
//     sequence number on NATS), and unique checks ids against it;
//   - pulling QUEUE [N] is the [nats] counterpart of waiting DIR [N]: it
//     waits for receivers to wait.
//
// -update rewrites scripts from the spool run only.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rogpeppe/go-internal/testscript"

	"pq/cmd"
	"pq/jetstream"
	"pq/jetstream/natstest"
	"pq/spool"
)

var update = flag.Bool("update", false, "rewrite the expected output of failing cmp lines in testdata/script")

// pqBinary is pq built from the main package by TestMain, for the tests that
// need control over the process that testscript does not give, such as a
// closed stdout, and for the process tests (buildPQ).
var pqBinary string

func TestMain(m *testing.M) {
	testscript.Main(buildingM{m}, map[string]func(){
		"pq": func() {
			watchdog()
			os.Exit(cmd.Main(os.Args, cmd.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
		},
		"status":    statusMain,
		"pq-on-nfs": pqOnNFS,
	})
}

// scriptLimit bounds every pq that a script runs, directly or through a
// shell: nothing a script does should take a pq process near it, and a pq
// that hangs (a wait that never ends, a retry that never dead-letters)
// must fail its script at once instead of the whole test binary at go
// test's timeout. $PQ_TEST_LIMIT overrides it.
const scriptLimit = 30 * time.Second

// watchdog ends this pq process with exit status 124, saying so on stderr,
// once it has run for scriptLimit. The exit ends threads blocked in system
// calls too (an open of a named pipe, say), which a signal would not.
func watchdog() {
	limit := scriptLimit
	if d, err := time.ParseDuration(os.Getenv("PQ_TEST_LIMIT")); err == nil && d > 0 {
		limit = d
	}
	time.AfterFunc(limit, func() {
		fmt.Fprintf(os.Stderr, "pq: test watchdog: %q still running after %v; exit 124\n", os.Args[1:], limit)
		os.Exit(124)
	})
}

// buildingM builds pq once before the tests run and removes it after. It
// wraps testing.M because testscript.Main calls Run only in the test process
// itself, not in the processes that run the commands above.
type buildingM struct{ m *testing.M }

func (b buildingM) Run() int {
	dir, err := os.MkdirTemp("", "pq-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	pqBinary = filepath.Join(dir, "pq")
	build := exec.Command("go", "build", "-o", pqBinary, "pq")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build pq: %v\n", err)
		return 2
	}
	return b.m.Run()
}

// statusMain is the script command "status N PROG ARGS...": it runs PROG
// with the script's stdin, stdout and stderr and succeeds when PROG exits
// with status N, as "exec" alone can only tell zero from non-zero.
func statusMain() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: status N PROG [ARGS...]")
		os.Exit(100)
	}
	want, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "status:", err)
		os.Exit(100)
	}
	c := exec.Command(os.Args[2], os.Args[3:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = c.Run()
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "status:", err)
		os.Exit(100)
	}
	if got != want {
		fmt.Fprintf(os.Stderr, "status: %s exited %d, want %d\n", os.Args[2], got, want)
		os.Exit(100)
	}
	os.Exit(0)
}

func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, scriptParams(false))
}

// natsScripts are the scripts that TestScriptsOnNATS runs a second time,
// against a NATS server: those whose subject is what a user sees of a
// queue, not the spool's files. Every other script runs on the spool only,
// exitstatus too: its usage errors are found before any backend, and
// a missing queue is checked on NATS by exec_drain and nats_only.
var natsScripts = []string{
	"badnames",
	"dedup",
	"exec_config",
	"exec_dlq_retry",
	"exec_drain",
	"exec_log",
	"exec_status",
	"fifo",
	"flags",
	"headers",
	"lines",
	"nats_only",
	"nats_ops",
	"roundtrip",
	"ttl",
	"wait",
}

// TestScriptsOnNATS runs the scripts of natsScripts with PQ_ROOT naming
// an embedded NATS server with JetStream, one per script, so that scripts
// running in parallel never share a queue. In these runs the condition
// [nats] holds; a script guards its spool-only lines with [!nats] and
// checks with [nats] lines what differs by design.
func TestScriptsOnNATS(t *testing.T) {
	t.Parallel()
	p := scriptParams(true)
	for _, name := range natsScripts {
		p.Files = append(p.Files, filepath.Join(p.Dir, name+".txtar"))
	}
	p.Dir = ""
	spoolSetup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		if err := spoolSetup(e); err != nil {
			return err
		}
		srv := natstest.Start(e.T().(testing.TB))
		e.Defer(srv.Shutdown)
		e.Setenv("PQ_ROOT", srv.URL())
		return nil
	}
	testscript.Run(t, p)
}

// scriptParams returns the parameters of a run of the scripts on the
// spool, or, with nats, those that TestScriptsOnNATS completes. -update
// rewrites the scripts from the spool run only, so that a [nats] case
// never rewrites what the spool must print.
func scriptParams(nats bool) testscript.Params {
	return testscript.Params{
		Dir:                 filepath.Join("..", "testdata", "script"),
		RequireExplicitExec: true,
		UpdateScripts:       *update && !nats,
		Setup: func(e *testscript.Env) error {
			// Nothing a script runs may touch the real home.
			e.Setenv("PQ_ROOT", filepath.Join(e.WorkDir, "spool"))
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, "xdg"))
			e.Setenv("XDG_DATA_HOME", filepath.Join(e.WorkDir, "xdgdata"))
			// Who the test runs as: the sender of the messages it makes.
			e.Setenv("SENDER", spool.SenderName(uint32(os.Getuid())))
			e.Setenv("SENDER_UID", strconv.Itoa(os.Getuid()))
			// A regular expression that matches one message id, for
			// the lines that print ids: a stream sequence number on
			// NATS.
			e.Setenv("IDRE", idPattern(nats))
			// Under -race every process that exits sleeps a second first,
			// to catch late reports; scripts start a great many of them.
			if d := os.Getenv("PQ_TEST_LIMIT"); d != "" {
				e.Setenv("PQ_TEST_LIMIT", d)
			}
			if os.Getenv("GORACE") == "" {
				e.Setenv("GORACE", "atexit_sleep_ms=10")
			}
			return nil
		},
		// [root]: the script runs as root, as CI does. [nats]: PQ_ROOT
		// names a NATS server (TestScriptsOnNATS), not a spool.
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Getuid() == 0, nil
			case "nats":
				return nats, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkbin":   cmdMkbin,
			"writef":  cmdWritef,
			"lines":   cmdLines,
			"unique":  cmdUnique,
			"expand":  cmdExpand,
			"waiting": cmdWaiting,
			"seq":     cmdSeq,
			"await":   cmdAwait,
			"pulling": cmdPulling,
		},
	}
}

// cmdMkbin is "mkbin FILE [SIZE]": it writes SIZE bytes (512 by default)
// that run through every byte value, NUL, CR and LF included, and do not end
// in a newline.
func cmdMkbin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: mkbin FILE [SIZE]")
	}
	size := 512
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		size = n
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	if size > 0 && b[size-1] == '\n' {
		b[size-1] = 0
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o666))
}

// cmdWritef is "writef FILE TEXT": it writes TEXT to FILE with Go's escapes
// (\n, \t, \x00, ...) decoded and no newline added.
func cmdWritef(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: writef FILE TEXT")
	}
	s, err := strconv.Unquote(`"` + strings.ReplaceAll(args[1], `"`, `\"`) + `"`)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(s), 0o666))
}

// cmdExpand is "expand FILE...": it replaces $VAR and ${VAR} in each FILE
// with the script's environment, so that a file of the archive can hold
// paths under $WORK.
func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: expand FILE...")
	}
	for _, name := range args {
		text := os.Expand(ts.ReadFile(name), ts.Getenv)
		ts.Check(os.WriteFile(ts.MkAbs(name), []byte(text), 0o666))
	}
}

// cmdWaiting is "waiting DIR [N]": it returns once N processes (1 by
// default) watch DIR with inotify, as a waiting pq recv watches its queue's
// new/ once it found it empty, and fails after a minute.
func cmdWaiting(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waiting DIR [N]")
	}
	want := 1
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		want = n
	}
	dir := ts.MkAbs(args[0])
	deadline := time.Now().Add(time.Minute)
	for watchers(dir) < want {
		if time.Now().After(deadline) {
			ts.Fatalf("fewer than %d processes came to watch %s", want, dir)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cmdAwait is "await FILE REGEXP": it returns once FILE exists and holds
// a match of REGEXP, as what a background process writes there, and fails
// after 20 seconds.
func cmdAwait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: await FILE REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if re.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s holds no match of %q after 20s:\n%s", args[0], args[1], b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cmdPulling is "pulling QUEUE [N]", the [nats] counterpart of waiting:
// it returns once N pull requests (1 by default) wait on the consumer of
// QUEUE on the NATS server of $PQ_ROOT, as a waiting pq recv keeps one,
// and fails after a minute.
func cmdPulling(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: pulling QUEUE [N]")
	}
	want := 1
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		want = n
	}
	nc, err := nats.Connect(ts.Getenv("PQ_ROOT"))
	ts.Check(err)
	defer nc.Close()
	js, err := natsjs.New(nc)
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		c, err := js.Consumer(ctx, jetstream.StreamName(args[0]), "pq")
		if err == nil {
			info, err := c.Info(ctx)
			if err == nil && info.NumWaiting >= want {
				return
			}
		}
		select {
		case <-ctx.Done():
			ts.Fatalf("fewer than %d pull requests came to wait on queue %s", want, args[0])
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// watchers counts the processes that watch dir with inotify.
func watchers(dir string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	n := 0
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err == nil && hasInotifyWatchOn(pid, dir) {
			n++
		}
	}
	return n
}

// cmdSeq is "seq FILE N": it writes the lines 1 to N to FILE.
func cmdSeq(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: seq FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintln(&b, i)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o666))
}

// cmdLines is "lines FILE N": FILE (or stdout, or stderr) holds exactly N
// lines, the last one ending in a newline.
func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: lines FILE N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	text := ts.ReadFile(args[0])
	if text != "" && !strings.HasSuffix(text, "\n") {
		ts.Fatalf("%s does not end in a newline: %q", args[0], text)
	}
	if got := strings.Count(text, "\n"); got != want {
		ts.Fatalf("%s has %d lines, want %d:\n%s", args[0], got, want, text)
	}
}

// idPattern returns a regular expression that matches one message id as
// pq prints it: on a spool, a send time, a process and a host; on NATS, a
// stream sequence number.
func idPattern(nats bool) string {
	if nats {
		return `[1-9][0-9]*`
	}
	return `[0-9]{19}\.[0-9]+_[0-9a-f]{8}\.[A-Za-z0-9-]+`
}

// cmdUnique is "unique FILE...": together the files (stdout included) hold
// message ids ($IDRE), one a line, and no id appears twice.
func cmdUnique(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: unique FILE...")
	}
	idLine := regexp.MustCompile("^(?:" + ts.Getenv("IDRE") + ")$")
	seen := map[string]string{}
	for _, name := range args {
		for _, line := range strings.Split(strings.TrimSuffix(ts.ReadFile(name), "\n"), "\n") {
			if !idLine.MatchString(line) {
				ts.Fatalf("%s: %q is not a message id", name, line)
			}
			if first, ok := seen[line]; ok {
				ts.Fatalf("id %s is in both %s and %s", line, first, name)
			}
			seen[line] = name
		}
	}
}

// TestClosedStdout shows that pq recv whose reader went away before it
// could write loses nothing: the write fails with EPIPE (not a SIGPIPE
// death), pq exits 2 and the messages go back to the queue in their order.
func TestClosedStdout(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	env := append(os.Environ(), "PQ_ROOT="+root, "XDG_CONFIG_HOME="+filepath.Join(root, "xdg"), "PQ_CONFIG=")
	run := func(stdin string, stdout *os.File, args ...string) (string, string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), stepLimit)
		defer cancel()
		c := exec.CommandContext(ctx, pqBinary, args...)
		c.Env = env
		c.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		if stdout != nil {
			c.Stdout = stdout
		}
		err := c.Run()
		if ctx.Err() != nil {
			t.Fatalf("pq %s did not exit within %v; killed it", strings.Join(args, " "), stepLimit)
		}
		return out.String(), errb.String(), err
	}
	for _, body := range []string{"first\n", "second\n", "third\n"} {
		if _, stderr, err := run(body, nil, "send", "jobs"); err != nil {
			t.Fatalf("send: %v\n%s", err, stderr)
		}
	}
	for _, args := range [][]string{{"recv", "jobs"}, {"recv", "--all", "jobs"}, {"recv", "--lines", "-n", "2", "jobs"}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before pq writes a byte
		_, stderr, err := run("", w, args...)
		w.Close()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("pq %s into a closed pipe: %v, want exit status 2\nstderr: %s", strings.Join(args, " "), err, stderr)
		}
		if !strings.HasPrefix(stderr, "pq: error: ") || !strings.Contains(stderr, "broken pipe") || strings.Contains(stderr, "goroutine") {
			t.Errorf("pq %s into a closed pipe: stderr %q, want one pq: error line about the broken pipe", strings.Join(args, " "), stderr)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "jobs", "cur"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("claims left in cur/ after the failed receives: %v", entries)
	}
	out, stderr, err := run("", nil, "recv", "--all", "jobs")
	if err != nil {
		t.Fatalf("recv after the failed receives: %v\n%s", err, stderr)
	}
	if want := "first\nsecond\nthird\n"; out != want {
		t.Errorf("recv after the failed receives got %q, want %q", out, want)
	}
}

// TestClosedStdoutSend shows that pq send whose reader went away fails with
// EPIPE (not a SIGPIPE death) and exits 2, and that a closed stderr does not
// kill pq either.
func TestClosedStdoutSend(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	env := append(os.Environ(), "PQ_ROOT="+root, "XDG_CONFIG_HOME="+filepath.Join(root, "xdg"), "PQ_CONFIG=")
	closedPipe := func() *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		t.Cleanup(func() { w.Close() })
		return w
	}
	c := exec.Command(pqBinary, "send", "jobs")
	c.Env, c.Stdin = env, strings.NewReader("body")
	var errb bytes.Buffer
	c.Stdout, c.Stderr = closedPipe(), &errb
	err := c.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("pq send into a closed pipe: %v, want exit status 2\nstderr: %s", err, errb.String())
	}
	if got := errb.String(); !strings.HasPrefix(got, "pq: error: write ids: ") || !strings.Contains(got, "broken pipe") {
		t.Errorf("pq send into a closed pipe: stderr %q, want one pq: error line about the broken pipe", got)
	}

	c = exec.Command(pqBinary, "recv", "nosuch")
	c.Env, c.Stdout, c.Stderr = env, nil, closedPipe()
	err = c.Run()
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("pq recv with a closed stderr: %v, want exit status 2", err)
	}
}
