package cmd

// Tests of pq dlq, pq retry and pq recover against queues whose state is
// built with package spool, since only a worker makes dead letters and only
// a dead receiver leaves a dead claim. Each runs pq in this process through
// Main, as the command line would, and checks stdout, stderr and the exit
// status. The usage errors and the empty cases are in
// testdata/script/dlq.txtar and recover.txtar.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pq/spool"
)

// pqResult is what one run of pq produced.
type pqResult struct {
	stdout, stderr string
	status         int
}

// check fails the test unless got is want, naming the command line.
func (got pqResult) check(t *testing.T, args []string, want pqResult) {
	t.Helper()
	if got != want {
		t.Errorf("pq %s:\n got status %d, stdout %q, stderr %q\nwant status %d, stdout %q, stderr %q",
			strings.Join(args, " "), got.status, got.stdout, got.stderr, want.status, want.stdout, want.stderr)
	}
}

// spoolFixture is a queue under a spool root of its own, to build state in
// with package spool and then run pq on.
type spoolFixture struct {
	t    *testing.T
	root string
	q    *spool.Queue
}

// newSpoolFixture creates the queue called name under a new spool root.
func newSpoolFixture(t *testing.T, name string) *spoolFixture {
	t.Helper()
	root := t.TempDir()
	q, err := spool.Open(root, name, spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Create(); err != nil {
		t.Fatal(err)
	}
	return &spoolFixture{t: t, root: root, q: q}
}

// pq runs pq ARGS... in this process on the fixture's spool root, reading
// no configuration file, and returns what it printed and its exit status.
func (f *spoolFixture) pq(t *testing.T, args ...string) pqResult {
	t.Helper()
	t.Setenv("PQ_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(f.root, "xdg"))
	var out, errb bytes.Buffer
	status := Main(append([]string{"pq", "--root", f.root}, args...), Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return pqResult{out.String(), errb.String(), status}
}

// send sends body and returns its ID.
func (f *spoolFixture) send(body string) spool.ID {
	f.t.Helper()
	id, err := f.q.Send(strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// claim claims the oldest ready message, which must be want.
func (f *spoolFixture) claim(want spool.ID) *spool.Claim {
	f.t.Helper()
	c, err := f.q.NewReceiver().Claim()
	if err != nil {
		f.t.Fatal(err)
	}
	if c.ID() != want {
		f.t.Fatalf("claimed %s, want %s", c.ID(), want)
	}
	return c
}

// deadLetter sends body and dead-letters it on its first delivery, as a
// worker whose handler failed would, and returns its ID.
func (f *spoolFixture) deadLetter(body string, why spool.Reason) spool.ID {
	f.t.Helper()
	id := f.send(body)
	if err := f.claim(id).DeadLetter(why); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// TestDLQ shows what pq dlq prints: one tab-separated line per dead letter,
// oldest first by send time whatever the order they died in, and with
// --stderr the stderr tail recorded for each, indented under its line.
func TestDLQ(t *testing.T) {
	f := newSpoolFixture(t, "q")
	q := f.q
	// A dead letter that another program dropped into dlq/ by hand: it
	// was sent long ago, had 4 attempts by its name, and has no reason.
	foreign := "1700000000000000000.1_00c0ffee.elsewhere"
	if err := os.WriteFile(filepath.Join(q.Dir(), "dlq", foreign+",a=4"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The first message fails twice: the first time it is retried, the
	// second it is dead-lettered. The time is recorded in its own zone
	// and to the nanosecond; pq dlq prints it in UTC, to the second.
	first := f.send("first body")
	if err := f.claim(first).Retry(0); err != nil {
		t.Fatal(err)
	}
	died := time.Date(2026, 3, 1, 13, 0, 0, 500_000_000, time.FixedZone("CET", 3600))
	if err := f.claim(first).DeadLetter(spool.Reason{Time: died, Cause: "exit status 3", Stderr: "boom\n"}); err != nil {
		t.Fatal(err)
	}
	// A later message whose cause spans lines, and whose handler wrote
	// several lines to stderr, the last without a newline.
	second := f.deadLetter("2nd", spool.Reason{Time: died, Cause: "killed by\nsignal TERM", Stderr: "starting\n\tdetail\nkilled"})

	lines := strings.Join([]string{
		foreign + "\tattempts=4\t-\t3\t-\n",
		string(first) + "\tattempts=2\t2026-03-01T12:00:00Z\t10\texit status 3\n",
		string(second) + "\tattempts=1\t2026-03-01T12:00:00Z\t3\tkilled by signal TERM\n",
	}, "")
	withStderr := strings.Join([]string{
		foreign + "\tattempts=4\t-\t3\t-\n",
		string(first) + "\tattempts=2\t2026-03-01T12:00:00Z\t10\texit status 3\n",
		"  boom\n",
		string(second) + "\tattempts=1\t2026-03-01T12:00:00Z\t3\tkilled by signal TERM\n",
		"  starting\n",
		"  \tdetail\n",
		"  killed\n",
	}, "")
	for _, tc := range []struct {
		name string
		args []string
		want pqResult
	}{
		{"one line per dead letter, oldest first", []string{"dlq", "q"}, pqResult{stdout: lines}},
		{"--stderr after the queue name", []string{"dlq", "q", "--stderr"}, pqResult{stdout: withStderr}},
		{"--stderr before it", []string{"dlq", "--stderr", "q"}, pqResult{stdout: withStderr}},
		{"a queue that does not exist", []string{"dlq", "nosuch"}, pqResult{stderr: "pq: error: queue nosuch: no such queue\n", status: ExitError}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.pq(t, tc.args...).check(t, tc.args, tc.want)
		})
	}
	// Listing changes nothing.
	if dead, err := q.DeadLetters(); err != nil || len(dead) != 3 {
		t.Errorf("after pq dlq, DeadLetters() = %v, %v; want the 3 dead letters", dead, err)
	}
}

// TestRetry shows pq retry putting dead letters back: an unknown ID moves
// nothing at all, named IDs move just those, --all moves the rest, and each
// moved ID is printed. The messages come back in their original order.
func TestRetry(t *testing.T) {
	f := newSpoolFixture(t, "q")
	q := f.q
	why := spool.Reason{Cause: "exit status 1"}
	one := f.deadLetter("one\n", why)
	two := f.deadLetter("two\n", why)
	three := f.deadLetter("three\n", why)

	steps := []struct {
		name string
		args []string
		want pqResult
		left int // dead letters left after the step
	}{
		{"an unknown ID is an error that names it, and nothing moves",
			[]string{"retry", "q", string(one), "nosuch"},
			pqResult{
				stderr: "pq: error: redrive nosuch in q: no such message\npq: hint: 'pq dlq q' lists the dead letters\n",
				status: ExitError,
			}, 3},
		{"named IDs, given twice or not, move once each, in the order given",
			[]string{"retry", "q", string(three), string(one), string(three)},
			pqResult{stdout: string(three) + "\n" + string(one) + "\n"}, 1},
		{"--all moves every dead letter left",
			[]string{"retry", "--all", "q"},
			pqResult{stdout: string(two) + "\n"}, 0},
		{"--all on an empty dead-letter queue moves nothing, silently",
			[]string{"retry", "q", "-a"},
			pqResult{}, 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f.pq(t, s.args...).check(t, s.args, s.want)
			if dead, err := q.DeadLetters(); err != nil || len(dead) != s.left {
				t.Errorf("dead letters left: %v, %v; want %d", dead, err, s.left)
			}
		})
	}
	// Back in the queue, in send order, as if they had never died.
	f.pq(t, "recv", "--all", "q").check(t, []string{"recv", "--all", "q"}, pqResult{stdout: "one\ntwo\nthree\n"})
}

// TestRecover shows pq recover cleaning a queue nobody receives from: a
// claim whose receiver died goes back to the queue, a live claim stays
// where it is, and of the files in tmp/ only those older than 36 hours go.
// It prints one line per thing done, and nothing the second time.
func TestRecover(t *testing.T) {
	f := newSpoolFixture(t, "q")
	q := f.q
	deadID := f.send("orphan\n")
	liveID := f.send("in hand\n")
	// A receiver that dies drops its lock with its descriptor; closing
	// the claim's descriptor is the same to everyone else.
	if err := f.claim(deadID).File().Close(); err != nil {
		t.Fatal(err)
	}
	live := f.claim(liveID)
	defer q.Ack(live)
	// Files that senders left in tmp/, by age.
	tmp := filepath.Join(q.Dir(), "tmp")
	for name, age := range map[string]time.Duration{
		"crashed-two-days-ago":  48 * time.Hour,
		"crashed-37-hours-ago":  37 * time.Hour,
		"crashed-yesterday":     24 * time.Hour,
		"being-written-now":     0,
		"written-35-hours-ago":  35 * time.Hour,
		"written-just-under-36": 36*time.Hour - time.Minute,
	} {
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}

	for _, s := range []struct {
		name string
		want string
	}{
		{"first run: the dead claim and the old leftovers", "recovered " + string(deadID) + "\nremoved tmp/crashed-37-hours-ago\nremoved tmp/crashed-two-days-ago\n"},
		{"second run: nothing left to do", ""},
	} {
		t.Run(s.name, func(t *testing.T) {
			f.pq(t, "recover", "q").check(t, []string{"recover", "q"}, pqResult{stdout: s.want})
		})
	}

	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range ents {
		kept = append(kept, e.Name())
	}
	if want := "being-written-now crashed-yesterday written-35-hours-ago written-just-under-36"; strings.Join(kept, " ") != want {
		t.Errorf("tmp/ holds %q, want %q", kept, want)
	}
	if _, err := os.Stat(live.Path()); err != nil {
		t.Errorf("the live claim was touched: %v", err)
	}
	// The recovered message can be received again; the live claim's
	// message cannot.
	f.pq(t, "recv", "--all", "q").check(t, []string{"recv", "--all", "q"}, pqResult{stdout: "orphan\n"})
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, spool.ErrEmpty) {
		t.Errorf("after receiving the recovered message, Claim() = %v, want ErrEmpty", err)
	}
}
