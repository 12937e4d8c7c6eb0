package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newQueue returns a created queue in a fresh root.
func newQueue(t testing.TB, opts Options) *Queue {
	t.Helper()
	q, err := Open(filepath.Join(t.TempDir(), "root"), "jobs", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Create(); err != nil {
		t.Fatal(err)
	}
	return q
}

// receiveBody claims the oldest message, reads it and acks it.
func receiveBody(t *testing.T, r *Receiver) string {
	t.Helper()
	c, err := r.Claim()
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	b, err := io.ReadAll(c.Body())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.q.Ack(c); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSendThenReceiveKeepsBodiesAndOrder(t *testing.T) {
	q := newQueue(t, Options{})
	bodies := []string{"first\n", "", "no newline", "nul\x00byte\xff\xfe", strings.Repeat("x", 100000)}
	for _, b := range bodies {
		if _, err := q.Send(strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	r := q.NewReceiver()
	for i, want := range bodies {
		if got := receiveBody(t, r); got != want {
			t.Fatalf("message %d: got %q, want %q", i, trunc(got), trunc(want))
		}
	}
	if _, err := r.Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim on a drained queue: %v, want ErrEmpty", err)
	}
	assertEmptyDir(t, q.tmp)
	assertEmptyDir(t, q.cur)
	assertNoFiles(t, q.new)
}

// assertNoFiles fails when any regular file is left below dir.
func assertNoFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			t.Errorf("%s is left", path)
		}
		return err
	})
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// eachClaim claims messages with r until the queue is empty, handing each
// claim to fn, which must settle it.
func eachClaim(t testing.TB, r *Receiver, fn func(*Claim)) {
	t.Helper()
	for {
		c, err := r.Claim()
		if errors.Is(err, ErrEmpty) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(c)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		out, _ := exec.Command("find", dir).CombinedOutput()
		t.Fatalf("%s holds %d entries, first %s\n%s", dir, len(ents), ents[0].Name(), out)
	}
}

func TestClaimedMessageIsNotClaimedTwice(t *testing.T) {
	q := newQueue(t, Options{})
	if _, err := q.Send(strings.NewReader("only")); err != nil {
		t.Fatal(err)
	}
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("second claim: %v, want ErrEmpty", err)
	}
	// A live claim is not recovered.
	if ids, err := q.Recover(); err != nil || len(ids) != 0 {
		t.Fatalf("recover of a live claim: %v %v", ids, err)
	}
	if err := q.Ack(c); err != nil {
		t.Fatal(err)
	}
}

func TestDeadClaimIsRecoveredWithAnAttemptCounted(t *testing.T) {
	q := newQueue(t, Options{})
	id, err := q.Send(strings.NewReader("work"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	c.f.Close() // the consumer dies: its lock goes with its descriptor
	ids, err := q.Recover()
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("recover: %v %v, want [%s]", ids, err, id)
	}
	c2, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if c2.ID() != id || c2.Attempt() != 2 {
		t.Fatalf("redelivered %s attempt %d, want %s attempt 2", c2.ID(), c2.Attempt(), id)
	}
	b, _ := io.ReadAll(c2.Body())
	if !bytes.Equal(b, []byte("work")) {
		t.Fatalf("body %q", b)
	}
}

func TestReleaseWithoutFailureKeepsTheMessageAsItWas(t *testing.T) {
	q := newQueue(t, Options{})
	first, _ := q.Send(strings.NewReader("a"))
	q.Send(strings.NewReader("b"))
	r := q.NewReceiver()
	c, err := r.Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	c, err = q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != first || c.Attempt() != 1 {
		t.Fatalf("got %s attempt %d, want %s attempt 1", c.ID(), c.Attempt(), first)
	}
}

func TestForeignFileRenamedIntoNewIsAMessage(t *testing.T) {
	q := newQueue(t, Options{})
	tmp := filepath.Join(q.Dir(), "tmp", "job-1")
	if err := os.WriteFile(tmp, []byte("from a script"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(q.Dir(), "new", "job-1")); err != nil {
		t.Fatal(err)
	}
	r := q.NewReceiver()
	if got := receiveBody(t, r); got != "from a script" {
		t.Fatalf("got %q", got)
	}
}

func TestDrainedBucketsAreRemoved(t *testing.T) {
	saved := bucketGrace
	bucketGrace = -48 * time.Hour // treat every bucket as one from the past
	t.Cleanup(func() { bucketGrace = saved })
	q := newQueue(t, Options{NoSync: true})
	b := q.NewBatch()
	for range 50 {
		b.Add(strings.NewReader("x"))
	}
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	r := q.NewReceiver()
	for range 50 {
		receiveBody(t, r)
	}
	if _, err := r.Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatal(err)
	}
	assertEmptyDir(t, q.new)
}

func TestValidName(t *testing.T) {
	for _, bad := range []string{"", "../x", "a/b", ".hidden", "-x", "a b", strings.Repeat("a", 129), "é"} {
		if err := ValidName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidName(%q) = %v, want ErrBadName", bad, err)
		}
	}
	for _, good := range []string{"a", "jobs", "Q1.b_c-d", strings.Repeat("a", 128)} {
		if err := ValidName(good); err != nil {
			t.Errorf("ValidName(%q) = %v", good, err)
		}
	}
}

func TestBucketsOfTheCurrentMomentStay(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	q.Send(strings.NewReader("x"))
	r := q.NewReceiver()
	receiveBody(t, r)
	if _, err := r.Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatal(err)
	}
	// Senders are still filling this bucket: removing it would make
	// them create it again.
	ents, _ := os.ReadDir(q.new)
	if len(ents) != 1 {
		t.Fatalf("new/ holds %d entries, want the current bucket", len(ents))
	}
}

// setClock makes the package's clock read t for the rest of the test. The
// last send time of this process goes back to what it was afterwards, so
// that names given under a clock set ahead do not lead later tests' names.
func setClock(t *testing.T, at time.Time) {
	t.Helper()
	saved := now
	ids.Lock()
	savedLast := ids.last
	ids.Unlock()
	now = func() time.Time { return at }
	t.Cleanup(func() {
		now = saved
		ids.Lock()
		ids.last = savedLast
		ids.Unlock()
	})
}

func TestRetryHidesTheMessageUntilItsBackoffHasPassed(t *testing.T) {
	q := newQueue(t, Options{})
	id, _ := q.Send(strings.NewReader("flaky"))
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Retry(time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim during the backoff: %v, want ErrEmpty", err)
	}
	later, _ := q.Send(strings.NewReader("sent after the failure"))
	if c, err := q.NewReceiver().Claim(); err != nil || c.ID() != later {
		t.Fatalf("claim during the backoff = %v, %v; want the later message %s", c, err, later)
	}

	setClock(t, time.Now().Add(2*time.Minute))
	c, err = q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != id || c.Attempt() != 2 {
		t.Fatalf("after the backoff: %s attempt %d, want %s attempt 2", c.ID(), c.Attempt(), id)
	}
}

func TestBatchesSmallAndLargeAreDelivered(t *testing.T) {
	// Small batches fsync each file; from bulkSync on, a batch uses syncfs.
	for _, n := range []int{3, bulkSync, 3 * bulkSync} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			q := newQueue(t, Options{})
			b := q.NewBatch()
			for i := range n {
				if err := b.Add(strings.NewReader(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			assertEmptyDir(t, q.tmp)
			r := q.NewReceiver()
			for i := range n {
				if got := receiveBody(t, r); got != fmt.Sprint(i) {
					t.Fatalf("message %d: got %q", i, got)
				}
			}
		})
	}
}

// A one-shot receiver stops at the first message and never comes back to
// its bucket: the buckets that senders have moved past are removed by the
// receivers that come next, so that a shell loop of single sends and
// receives does not leave every next receiver more empty buckets to walk.
func TestOneShotReceiversDoNotLeaveEmptyBucketsBehind(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	t0 := time.Now()
	for i := range 50 {
		setClock(t, t0.Add(time.Duration(i)*20*time.Millisecond)) // well within bucketGrace
		if _, err := q.Send(strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		r := q.NewReceiver()
		receiveBody(t, r)
		r.Close()
	}
	var buckets []string
	filepath.WalkDir(q.new, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.Count(path[len(q.new):], "/") == bucketDepth {
			buckets = append(buckets, path[len(q.new):])
		}
		return err
	})
	if len(buckets) > 2 {
		t.Errorf("new/ holds %d leaf buckets after 50 sends and one-shot receives, want at most 2: %q", len(buckets), buckets)
	}
}
