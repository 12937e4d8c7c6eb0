package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pq/spool"
)

// testLimit bounds every wait in these tests; nothing should come close.
const testLimit = 30 * time.Second

// newQueue returns a created queue in a temporary spool root, NoSync since
// these tests are about the loop, not durability.
func newQueue(t *testing.T) *spool.Queue {
	t.Helper()
	q, err := spool.Open(t.TempDir(), "q", spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Create(); err != nil {
		t.Fatal(err)
	}
	return q
}

// send sends bodies to q and returns their IDs.
func send(t *testing.T, q *spool.Queue, bodies ...string) []spool.ID {
	t.Helper()
	var ids []spool.ID
	for _, b := range bodies {
		id, err := q.Send(strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// stat returns q's counts.
func stat(t *testing.T, q *spool.Queue) spool.Stats {
	t.Helper()
	s, err := q.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// opts returns options for a test: three attempts, no backoff, and a log
// of what the worker said in buf.
func opts(buf *bytes.Buffer) Options {
	return Options{
		MaxAttempts: 3,
		Logger:      slog.New(slog.NewTextHandler(&SyncWriter{W: buf}, nil)),
	}
}

// runBounded runs w and fails the test if it does not return in testLimit.
func runBounded(t *testing.T, ctx context.Context, w *Worker) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(testLimit):
		t.Fatalf("Run did not return within %v", testLimit)
		return nil
	}
}

func TestRunSettlesByResult(t *testing.T) {
	q := newQueue(t)
	send(t, q, "ok", "permanent", "flaky", "failing")
	var mu sync.Mutex
	seen := map[string][]int{}
	h := func(ctx context.Context, m *Message) error {
		b, _ := io.ReadAll(m.Body())
		mu.Lock()
		seen[string(b)] = append(seen[string(b)], m.Attempt())
		mu.Unlock()
		switch string(b) {
		case "permanent":
			return Permanent(errors.New("bad input"))
		case "flaky":
			if m.Attempt() < 2 {
				return errors.New("try again")
			}
		case "failing":
			return &Failure{Cause: "exit status 3", Stderr: "oops\n"}
		}
		return nil
	}
	var log bytes.Buffer
	if err := Run(t.Context(), q.Queue(), h, opts(&log)); err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{"ok": {1}, "permanent": {1}, "flaky": {1, 2}, "failing": {1, 2, 3}}
	for k, v := range want {
		if !slices.Equal(seen[k], v) {
			t.Errorf("%s ran as attempts %v, want %v", k, seen[k], v)
		}
	}
	if s := stat(t, q); s != (spool.Stats{Dead: 2}) {
		t.Errorf("the queue holds %+v, want the two failures dead", s)
	}
	dead, err := q.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	var causes []string
	for _, d := range dead {
		causes = append(causes, d.Reason.Cause+"|"+d.Reason.Stderr)
	}
	slices.Sort(causes)
	if want := []string{"bad input (permanent failure)|", "exit status 3|oops\n"}; !slices.Equal(causes, want) {
		t.Errorf("dead letters' causes %q, want %q", causes, want)
	}
	for _, line := range []string{
		`level=WARN msg="try again on attempt 1 of 3 after \S+: retry in 0s" queue=q id=\S+ attempt=1 duration=\S+ outcome=retry cause="try again" backoff=0\n`,
		`level=ERROR msg="exit status 3 on attempt 3 of 3 after \S+: dead-lettered" queue=q id=\S+ attempt=3 duration=\S+ outcome=dead-lettered cause="exit status 3"\n`,
		`level=ERROR msg="bad input \(permanent failure\) on attempt 1 after \S+: dead-lettered" .* outcome=dead-lettered`,
		`level=INFO msg="acked on attempt 2 after \S+" queue=q id=\S+ attempt=2 duration=\S+ outcome=acked\n`,
	} {
		if !regexp.MustCompile(line).MatchString(log.String()) {
			t.Errorf("the log:\n%s\nlacks %q", log.String(), line)
		}
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	w := &Worker{o: Options{BackoffMin: time.Second, BackoffMax: 5 * time.Second}}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 60: 5 * time.Second} {
		if got := w.backoff(n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestCannotRunStopsAndPutsBack(t *testing.T) {
	q := newQueue(t)
	send(t, q, "one", "two")
	runs := 0
	h := func(context.Context, *Message) error {
		runs++
		return &Failure{Cause: "the command cannot run (exit status 127)", Kind: ErrCannotRun}
	}
	err := Run(t.Context(), q.Queue(), h, opts(new(bytes.Buffer)))
	if !errors.Is(err, ErrCannotRun) || !strings.Contains(err.Error(), "queue q: the command cannot run") {
		t.Errorf("Run = %v, want the handler's ErrCannotRun naming the queue", err)
	}
	if runs != 1 {
		t.Errorf("the handler ran %d times, want once", runs)
	}
	if s := stat(t, q); s != (spool.Stats{Ready: 2}) {
		t.Errorf("the queue holds %+v, want both messages ready", s)
	}
}

// TestPoisonIsDeadLetteredWithoutRunning: a message claimed with
// MaxAttempts failed attempts already is dead-lettered as "too many
// attempts", and the handler never sees it.
func TestPoisonIsDeadLetteredWithoutRunning(t *testing.T) {
	q := newQueue(t)
	send(t, q, "poison")
	// Three failed deliveries, each put back as by a crash.
	r := q.NewReceiver()
	for range 3 {
		c, err := r.Claim()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Retry(0); err != nil {
			t.Fatal(err)
		}
	}
	ran := false
	h := func(context.Context, *Message) error { ran = true; return nil }
	if err := Run(t.Context(), q.Queue(), h, opts(new(bytes.Buffer))); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Error("the handler ran a message past MaxAttempts")
	}
	dead, err := q.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Reason.Cause != "too many attempts" {
		t.Errorf("dead letters %+v, want one with the cause too many attempts", dead)
	}
}

// TestShutdownGraceThenInterrupt: once ctx is done, a running handler has
// Grace; then its context is cancelled and its message goes back untouched
// whatever it returns, except nil, which acks it.
func TestShutdownGraceThenInterrupt(t *testing.T) {
	for _, ret := range []error{nil, context.Canceled, errors.New("exit status 1")} {
		t.Run(fmt.Sprint(ret), func(t *testing.T) {
			q := newQueue(t)
			send(t, q, "long")
			started := make(chan struct{})
			h := func(ctx context.Context, m *Message) error {
				close(started)
				<-ctx.Done()
				return ret
			}
			o := opts(new(bytes.Buffer))
			o.MaxAttempts, o.Grace, o.Wait = 1, 10*time.Millisecond, true
			w, err := New(q.Queue(), h, o)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			go func() { <-started; cancel() }()
			if err := runBounded(t, ctx, w); err != nil {
				t.Fatal(err)
			}
			want := spool.Stats{Ready: 1}
			if ret == nil {
				want = spool.Stats{}
			}
			if s := stat(t, q); s != want {
				t.Errorf("the queue holds %+v, want %+v", s, want)
			}
		})
	}
}

// TestInterruptedDuringShutdown: a handler that fails with ErrInterrupted
// just before the worker's shutdown begins (a signal that reached the job
// first) puts its message back untouched; one that does so while the worker
// goes on is a failed attempt.
func TestInterruptedDuringShutdown(t *testing.T) {
	old := interruptWindow
	t.Cleanup(func() { interruptWindow = old })
	interruptWindow = testLimit
	t.Run("shutdown follows", func(t *testing.T) {
		q := newQueue(t)
		send(t, q, "job")
		ctx, cancel := context.WithCancel(t.Context())
		h := func(context.Context, *Message) error {
			time.AfterFunc(10*time.Millisecond, cancel) // the worker's own signal, a little later
			return &Failure{Cause: "killed by signal TERM", Kind: ErrInterrupted}
		}
		o := opts(new(bytes.Buffer))
		o.MaxAttempts, o.Wait = 1, true
		w, _ := New(q.Queue(), h, o)
		if err := runBounded(t, ctx, w); err != nil {
			t.Fatal(err)
		}
		if s := stat(t, q); s != (spool.Stats{Ready: 1}) {
			t.Errorf("the queue holds %+v, want the message back untouched", s)
		}
	})
	t.Run("no shutdown", func(t *testing.T) {
		interruptWindow = time.Millisecond
		q := newQueue(t)
		send(t, q, "job")
		h := func(context.Context, *Message) error {
			return &Failure{Cause: "killed by signal TERM", Kind: ErrInterrupted}
		}
		o := opts(new(bytes.Buffer))
		o.MaxAttempts = 1
		if err := Run(t.Context(), q.Queue(), h, o); err != nil {
			t.Fatal(err)
		}
		if s := stat(t, q); s != (spool.Stats{Dead: 1}) {
			t.Errorf("the queue holds %+v, want the message dead-lettered", s)
		}
	})
}

// TestJobTimeout: a handler past JobTimeout has its context cancelled and
// fails with the cause "timed out after ..."; one that returns nil all the
// same is acked.
func TestJobTimeout(t *testing.T) {
	for _, ret := range []error{nil, errors.New("stopped")} {
		t.Run(fmt.Sprint(ret), func(t *testing.T) {
			q := newQueue(t)
			send(t, q, "slow")
			h := func(ctx context.Context, m *Message) error {
				<-ctx.Done()
				return ret
			}
			o := opts(new(bytes.Buffer))
			o.MaxAttempts, o.JobTimeout = 1, 20*time.Millisecond
			if err := Run(t.Context(), q.Queue(), h, o); err != nil {
				t.Fatal(err)
			}
			dead, err := q.DeadLetters()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case ret == nil && len(dead) > 0:
				t.Errorf("a handler that returned nil at its timeout was dead-lettered: %+v", dead)
			case ret != nil && (len(dead) != 1 || dead[0].Reason.Cause != "timed out after 20ms"):
				t.Errorf("dead letters %+v, want one timed out after 20ms", dead)
			}
			if s := stat(t, q); s.Ready+s.Claimed+s.Delayed > 0 {
				t.Errorf("the queue holds %+v", s)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	q := newQueue(t)
	for _, o := range []Options{{}, {MaxAttempts: 1, BackoffMin: time.Second}, {MaxAttempts: 1, Grace: -1}} {
		if _, err := New(q.Queue(), nil, o); !errors.Is(err, ErrBadOptions) {
			t.Errorf("New(%+v) = %v, want ErrBadOptions", o, err)
		}
	}
}

func TestMain(m *testing.M) {
	ackWindow = time.Millisecond
	os.Exit(m.Run())
}
