package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"pq/seal"
	"pq/spool"
)

// Exit statuses of a command that mean something to the worker.
const (
	// StatusPermanent is the exit status by which a command says a
	// message can never succeed: it goes straight to the dead-letter
	// queue.
	StatusPermanent = 100
	// StatusCannotRun and StatusNotFound are the shell's statuses for a
	// command that could not run at all: a broken worker, not a bad
	// message.
	StatusCannotRun = 126
	StatusNotFound  = 127
)

// killGrace is how long a command stopped with SIGTERM has before SIGKILL.
var killGrace = 3 * time.Second

// Seams for tests: how a process group is signalled, and how the delayed
// SIGKILL is scheduled.
var (
	kill       = syscall.Kill
	afterFunc  = time.AfterFunc
	tailLength = 10 // lines of stderr kept for a dead letter
)

// CommandOptions are where a command's output goes and what environment it
// gets.
type CommandOptions struct {
	// Stdout receives the command's stdout; nil discards it. An *os.File
	// is handed to the command as it is.
	Stdout io.Writer
	// Stderr receives the command's stderr as it comes; nil discards it.
	// Writes from concurrent commands are serialized, with the writes of
	// anyone else who shares it when it is a *SyncWriter. The last lines
	// are also kept, for a dead letter's record.
	Stderr io.Writer
	// Env is the environment the command starts from; nil means the
	// worker's own (os.Environ).
	Env []string
	// Logger receives a line when a request's reply is discarded because
	// nobody waits for it any more; nil discards it.
	Logger *slog.Logger
	// To, when not nil, is the queue that the command's stdout goes to
	// instead of Stdout: see [Command]. It needs a spool queue.
	To *spool.Queue
	// Root is what PQ_ROOT says; empty means the root of the message's
	// spool queue, absolute.
	Root string
}

// Command returns a Handler that runs the shell command line cmdline with
// /bin/sh -c once per message. The body is on the command's stdin, which is
// the claim's own locked descriptor: the command, and anything it leaves
// running, holds the claim for as long as it keeps stdin open, even if the
// worker dies. Its environment adds PQ_QUEUE (the queue's name), PQ_ID,
// PQ_ATTEMPT (1 the first time), PQ_PRIORITY (0 to 9), PQ_GROUP (its group, empty for none),
// PQ_SENDER and PQ_SENDER_UID (who sent it: see [Message.Sender]), PQ_FILE (the claimed file), PQ_ROOT
// (the spool root, absolute), and PQ_HEADER_KEY for each header of the
// message (see [spool.EnvName]); PQ_HEADER_ variables of the worker's own
// environment are left out.
//
// A message of an encrypted queue (see [spool.Queue.EncryptTo]) is
// decrypted whole, and so authenticated, into a temporary file (in
// $TMPDIR, mode 0600) before the command starts; that file is its stdin,
// seekable, and PQ_FILE names it; it is removed when the command ends.
// The claim's locked descriptor is then the command's file descriptor 3,
// which holds the claim as stdin does otherwise. A body that fails to
// authenticate is never handed to the command: the worker moves it to
// the dead-letter queue with the cause "cannot decrypt", untried.
//
// For a request ([Message.Request]), the command's stdout is its reply
// instead: it goes to a file in the request's reply place, not to
// CommandOptions.Stdout, and the environment adds PQ_REPLY_TO, the
// request's ID. When the command exits 0 the reply is committed (see
// [spool.ReplyWriter]) before the handler returns, and so before the
// request is acked; when it fails the reply is discarded. When nobody
// waits for the reply any more, it is discarded and the request acked as
// usual, with a line to CommandOptions.Logger.
//
// The command runs in a process group of its own. When the handler's
// context is done (a timeout, or the worker stopping it), the group gets
// SIGTERM, and SIGKILL 3 seconds later if it is still there; when the
// command ends, whatever it left in its group is killed.
//
// With CommandOptions.To, the command's stdout is a message for that queue
// instead (a request's too): it goes to a file staged there, and when the
// command exits 0 it is handed over as a new message, with the input's
// priority, group, time to live and headers, atomically with the end of
// the input's claim (see [spool.Output]); the handler then returns nil and
// the worker's ack ends the move. The command may add headers to the
// output, KEY=VALUE lines in the file named by its PQ_OUTPUT_HEADERS, each
// over the input's of the same key ([spool.Output.SetHeaders]); a bad one
// fails the attempt. When the command fails, its output is dropped.
//
// Its exit status becomes the handler's result: 0 is nil, 100 a permanent
// failure ([ErrPermanent]), 126 and 127 a command that cannot run
// ([ErrCannotRun]). Death by SIGTERM or SIGINT, or exit status 143 or 130
// (a shell's report of its child's death by them), is [ErrInterrupted].
// Every error is a *[Failure] with the last lines of the command's stderr.
func Command(cmdline string, o CommandOptions) Handler {
	r := &commandRunner{line: cmdline, o: o, stderr: io.Discard}
	if o.Stderr != nil {
		r.stderr = o.Stderr
		if _, ok := o.Stderr.(*SyncWriter); !ok {
			r.stderr = &SyncWriter{W: o.Stderr}
		}
	}
	return r.run
}

// commandRunner runs one command line.
type commandRunner struct {
	line   string
	o      CommandOptions
	stderr io.Writer
}

// run runs the command on one message.
func (r *commandRunner) run(ctx context.Context, m *Message) error {
	if err := ctx.Err(); err != nil {
		return err // stopped before it started
	}
	var plain *os.File
	if m.sc == nil || m.sc.Sealed() {
		var err error
		if plain, err = plainCopy(m); err != nil {
			return err
		}
		defer func() {
			plain.Close()
			os.Remove(plain.Name())
		}()
	}
	env, err := r.env(m, plain)
	if err != nil {
		return err // a failed attempt: the metadata may be readable next time
	}
	stdout := r.o.Stdout
	var reply *spool.ReplyWriter
	var replyFile *os.File // the reply of a request of another backend
	var out *spool.Output
	var headersPath string
	if r.o.To != nil {
		if out, err = r.newOutput(m); err != nil {
			return err
		}
		defer out.Abort() // a no-op once committed
		stdout = out.File()
		if headersPath, err = outputHeadersFile(); err != nil {
			return cannotRun(err.Error(), "")
		}
		defer os.Remove(headersPath)
		env = append(env, "PQ_OUTPUT_HEADERS="+headersPath)
	} else if m.Request() && m.sc == nil {
		var done func()
		if replyFile, done, err = newReplyFile(); err != nil {
			return err
		}
		defer done()
		stdout = replyFile
	} else if m.Request() {
		if reply, err = r.newReply(m); err != nil {
			return err
		}
		stdout = nil // nobody waits: discarded
		if reply != nil {
			defer reply.Abort() // a no-op once committed
			stdout = reply      // on an encrypted queue, through its encryption
			if f := reply.File(); f != nil {
				stdout = f // else straight into the file
			}
		}
	}
	tail := &tailWriter{max: tailLength}
	stderr, err := newStderrPipe(io.MultiWriter(r.stderr, tail))
	if err != nil {
		return cannotRun(err.Error(), "")
	}
	cmd := exec.Command("/bin/sh", "-c", r.line)
	cmd.Stdin = m.File()
	if plain != nil {
		// The plaintext on stdin; a spool claim's locked descriptor as
		// fd 3, so that the claim still lives exactly as long as the
		// command.
		cmd.Stdin = plain
		if f := m.File(); f != nil {
			cmd.ExtraFiles = []*os.File{f}
		}
	}
	cmd.Stdout = stdout
	cmd.Stderr = stderr.w
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	stderr.started()
	if err != nil {
		stderr.wait()
		return cannotRun(err.Error(), tail.String())
	}
	res := waitGroup(ctx, cmd)
	stderr.wait() // the whole tail, before it is recorded
	if res == nil && out != nil {
		return r.commitOutput(m, out, headersPath)
	}
	if res == nil && replyFile != nil {
		return r.sendReply(ctx, m, replyFile)
	}
	if res == nil {
		return r.commitReply(m, reply)
	}
	if errors.Is(res, ErrCannotRun) {
		return cannotRun(res.Cause, tail.String())
	}
	res.Stderr = tail.String()
	return res
}

// cannotRun is the Failure of a command that could not run.
func cannotRun(cause, stderr string) *Failure {
	why := fmt.Sprintf("the command cannot run (%s)", cause)
	if line := lastLine(stderr); line != "" {
		why += ": " + line
	}
	return &Failure{Cause: why, Stderr: stderr, Kind: ErrCannotRun}
}

// env returns the environment of the command for m: the base, less any
// PQ_HEADER_ variables it had, and pq's variables, one PQ_HEADER_KEY per
// header of the message.
func (r *commandRunner) env(m *Message, plain *os.File) ([]string, error) {
	headers, err := m.Headers()
	if err != nil {
		return nil, err
	}
	base := r.o.Env
	if base == nil {
		base = os.Environ()
	}
	root := r.root(m)
	env := make([]string, 0, len(base)+9+len(headers))
	for _, kv := range base {
		if !strings.HasPrefix(kv, "PQ_HEADER_") && !strings.HasPrefix(kv, "PQ_REPLY_TO=") && !strings.HasPrefix(kv, "PQ_REPLY_QUEUE=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"PQ_QUEUE="+m.Queue().Name(),
		"PQ_ID="+string(m.ID()),
		"PQ_ATTEMPT="+strconv.Itoa(m.Attempt()),
		"PQ_PRIORITY="+strconv.Itoa(m.Priority()),
		"PQ_GROUP="+m.Group(),
		"PQ_FILE="+plainPath(m, plain),
		"PQ_ROOT="+root,
	)
	if uid, ok := m.SenderUID(); ok {
		env = append(env, "PQ_SENDER="+m.Sender(), "PQ_SENDER_UID="+strconv.FormatUint(uint64(uid), 10))
	}
	for _, h := range headers {
		env = append(env, spool.EnvName(h.Key)+"="+h.Value)
	}
	if m.sc != nil && m.Request() {
		rq, id := m.sc.ReplyTo()
		env = append(env, "PQ_REPLY_TO="+string(id), "PQ_REPLY_QUEUE="+rq.Name())
	}
	return env, nil
}

// root returns what PQ_ROOT says for m.
func (r *commandRunner) root(m *Message) string {
	if r.o.Root != "" {
		return r.o.Root
	}
	sq, ok := spool.Unwrap(m.Queue())
	if !ok {
		return ""
	}
	root, err := filepath.Abs(filepath.Dir(sq.Dir()))
	if err != nil {
		return filepath.Dir(sq.Dir())
	}
	return root
}

// plainPath returns what PQ_FILE names: the claimed file, or the
// plaintext copy of a message of an encrypted queue.
func plainPath(m *Message, plain *os.File) string {
	if plain != nil {
		return plain.Name()
	}
	return m.Path()
}

// plainCopy decrypts the body of m, a message of an encrypted queue, whole
// into a new file in the temporary directory ($TMPDIR), readable and
// writable by the worker's user only, and returns it open at its start:
// a command never starts on a body that has not been authenticated to its
// end. A body that fails to authenticate is an error matching
// seal.ErrCorrupt, which the worker dead-letters; a copy that cannot be
// written is a worker that cannot run.
func plainCopy(m *Message) (*os.File, error) {
	f, err := os.CreateTemp("", "pq-plain-*")
	if err != nil {
		return nil, cannotRun("plaintext copy: "+err.Error(), "")
	}
	_, err = io.Copy(f, m.Body())
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		if errors.Is(err, seal.ErrCorrupt) {
			return nil, fmt.Errorf("message %s: %w", m.ID(), err)
		}
		return nil, cannotRun("plaintext copy: "+err.Error(), "")
	}
	return f, nil
}

// group is a started command's process group, which a stop may signal
// until the command has ended and its group is gone.
type group struct {
	pid     int
	mu      sync.Mutex
	gone    bool        // the group's leader is about to be reaped: its id may be reused
	killing *time.Timer // the delayed SIGKILL after a stop
}

// stop sends SIGTERM to the group now and SIGKILL after killGrace.
func (g *group) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone || g.killing != nil {
		return
	}
	kill(-g.pid, syscall.SIGTERM)
	g.killing = afterFunc(killGrace, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.gone {
			kill(-g.pid, syscall.SIGKILL)
		}
	})
}

// end kills what the command left in its group, while its leader, not yet
// reaped, still holds the group's id, and cancels a pending SIGKILL: once
// the leader is reaped, the id may belong to someone else.
func (g *group) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	kill(-g.pid, syscall.SIGKILL)
	g.gone = true
	if g.killing != nil {
		g.killing.Stop()
	}
}

// waitGroup waits for a started command, stopping its process group when
// ctx is done, and returns its result. The result is that of the real exit
// status: a command that exits 0 as it is being stopped has succeeded.
func waitGroup(ctx context.Context, cmd *exec.Cmd) *Failure {
	g := &group{pid: cmd.Process.Pid}
	unwatch := context.AfterFunc(ctx, g.stop)
	var err error
	reaped := false
	if waitExit(g.pid) != nil {
		// No way to wait without reaping here: reap first.
		err, reaped = cmd.Wait(), true
	}
	unwatch()
	g.end()
	if !reaped {
		err = cmd.Wait()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return &Failure{Cause: err.Error()}
	}
	return exitFailure(cmd.ProcessState.Sys().(syscall.WaitStatus))
}

// exitFailure returns the Failure that an exit status means, nil for
// success.
func exitFailure(st syscall.WaitStatus) *Failure {
	if st.Signaled() {
		f := &Failure{Cause: "killed by signal " + signalName(st.Signal())}
		if st.Signal() == syscall.SIGTERM || st.Signal() == syscall.SIGINT {
			f.Kind = ErrInterrupted
		}
		return f
	}
	f := &Failure{Cause: fmt.Sprintf("exit status %d", st.ExitStatus())}
	switch st.ExitStatus() {
	case 0:
		return nil
	case StatusPermanent:
		f.Kind = ErrPermanent
	case StatusCannotRun, StatusNotFound:
		f.Kind = ErrCannotRun
	case 128 + int(syscall.SIGTERM), 128 + int(syscall.SIGINT):
		f.Kind = ErrInterrupted
	}
	return f
}

// signalName names a signal as kill -l does.
func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "HUP", syscall.SIGINT: "INT", syscall.SIGQUIT: "QUIT", syscall.SIGABRT: "ABRT",
		syscall.SIGKILL: "KILL", syscall.SIGSEGV: "SEGV", syscall.SIGPIPE: "PIPE", syscall.SIGTERM: "TERM",
		syscall.SIGBUS: "BUS", syscall.SIGFPE: "FPE", syscall.SIGILL: "ILL", syscall.SIGUSR1: "USR1", syscall.SIGUSR2: "USR2",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}
