package spool

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// setHooks runs f at the named points of claims and recoveries for the
// rest of the test, once: f runs with the hooks off, so that what it does
// itself goes through unhindered.
func setHooks(t *testing.T, point string, f func(path string)) {
	t.Helper()
	t.Cleanup(func() { hooks = nil })
	hooks = func(p, path string) {
		if p == point {
			hooks = nil
			f(path)
		}
	}
}

// replaceWith renames a new file with body over path, as a program that
// reuses a name with mv does.
func replaceWith(t *testing.T, q *Queue, path, body string) {
	t.Helper()
	tmp := filepath.Join(q.tmp, "reused")
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// A slow receiver opened the message; before it locks it, others claim and
// ack it, and a program puts a new file under the same name. The slow
// receiver must not deliver the old body again, nor take the new file.
func TestANameReusedBeforeTheLockIsNotClaimed(t *testing.T) {
	q := newQueue(t, Options{})
	q.Send(strings.NewReader("old"))
	var steps func() []step
	setHooks(t, "claim-open", func(path string) {
		if got := receiveBody(t, q.NewReceiver()); got != "old" {
			t.Fatalf("the fast receiver got %q", got)
		}
		replaceWith(t, q, path, "new")
		steps = traceSteps(t)
	})
	slow := q.NewReceiver()
	c, err := slow.Claim()
	// The name is checked against the locked file before the rename: the
	// new file never passes through cur/, where a recovery running at that
	// moment would count an attempt against it.
	for _, st := range steps() {
		if st.op == "rename" && filepath.Dir(st.path) == q.cur && (err != nil || st.path != c.Path()) {
			t.Errorf("the slow receiver renamed %s into cur/", filepath.Base(st.path))
		}
	}
	if err == nil {
		if b := readAll(t, c); b != "new" {
			t.Fatalf("the slow receiver delivered %q again", b)
		}
		q.Ack(c)
		return
	}
	if got := receiveBody(t, q.NewReceiver()); got != "new" {
		t.Fatalf("got %q, want the new message", got)
	}
}

// Between the check and the rename, a program renames another file over
// the name: the claim must not end with that file in cur/ under the old
// message's lock.
func TestANameReusedBeforeTheRenameGoesBack(t *testing.T) {
	q := newQueue(t, Options{})
	q.Send(strings.NewReader("old"))
	setHooks(t, "claim-checked", func(path string) { replaceWith(t, q, path, "new") })
	c, err := q.NewReceiver().Claim()
	if err == nil {
		t.Fatalf("claimed %q: the file in cur/ is not the one locked", readAll(t, c))
	}
	if !errors.Is(err, ErrEmpty) {
		t.Fatal(err)
	}
	if n, _ := countFiles(q.cur, ""); n != 0 {
		t.Fatalf("cur/ holds %d files, want none", n)
	}
	if got := receiveBody(t, q.NewReceiver()); got != "new" {
		t.Fatalf("got %q, want the new message", got)
	}
}

// Recovery opened a dead claim; before it locks it, the message is
// recovered, claimed and acked by others, and a live claim of another file
// takes the same name in cur/. Recovery must leave that live claim alone.
func TestRecoveryLeavesALiveClaimUnderAReusedName(t *testing.T) {
	q := newQueue(t, Options{})
	q.Send(strings.NewReader("old"))
	dead, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	dead.f.Close() // its consumer dies
	var live *Claim
	setHooks(t, "recover-open", func(path string) {
		if _, err := q.Recover(); err != nil {
			t.Fatal(err)
		}
		if got := receiveBody(t, q.NewReceiver()); got != "old" {
			t.Fatalf("got %q", got)
		}
		putFile(t, q, filepath.Join(dirNew, filepath.Base(path)), "new")
		if live, err = q.NewReceiver().Claim(); err != nil || live.Path() != path {
			t.Fatalf("claim of the reused name = %v, %v", live, err)
		}
	})
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, live); b != "new" {
		t.Fatalf("the live claim reads %q", b)
	}
	if err := q.Ack(live); err != nil {
		t.Fatalf("ack of the live claim: %v: recovery moved it", err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, want ErrEmpty", err)
	}
}

func useLinkFallback(t *testing.T) {
	t.Helper()
	noRenameat2 = true
	t.Cleanup(func() { noRenameat2 = false })
}

func TestTheLinkFallbackSendsAndReceives(t *testing.T) {
	useLinkFallback(t)
	q := newQueue(t, Options{})
	for _, b := range []string{"a", "b"} {
		if _, err := q.Send(strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	r := q.NewReceiver()
	if got := receiveBody(t, r) + receiveBody(t, r); got != "ab" {
		t.Fatalf("got %q", got)
	}
	if err := os.Rename(q.tmp, q.tmp+".x"); err != nil { // nothing left behind in tmp/
		t.Fatal(err)
	}
	os.Mkdir(q.tmp, 0o700)
	assertEmptyDir(t, q.tmp+".x")
}

// link makes a second name for the file at from, as the link-and-unlink
// fallback does before a crash cuts it short.
func linkName(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(from, to); err != nil {
		t.Fatal(err)
	}
}

// assertDeliveredOnce receives everything and wants body exactly once, and
// nothing left in cur/ for recovery to bring back.
func assertDeliveredOnce(t *testing.T, q *Queue, body string) {
	t.Helper()
	for round := range 2 {
		if _, err := q.Recover(); err != nil {
			t.Fatal(err)
		}
		eachClaim(t, q.NewReceiver(), func(c *Claim) {
			if b := readAll(t, c); b != body || round > 0 {
				t.Fatalf("round %d: delivered %q, want %q once", round, b, body)
			}
			round++
			if err := q.Ack(c); err != nil {
				t.Fatal(err)
			}
		})
		if round == 0 {
			t.Fatalf("%q was never delivered", body)
		}
	}
}

func TestACrashedClaimOfTheLinkFallbackIsDeliveredOnce(t *testing.T) {
	q := newQueue(t, Options{})
	id, _ := q.Send(strings.NewReader("m"))
	linkName(t, filepath.Join(q.new, messagesUnder(t, q.new)[0]), filepath.Join(q.cur, string(id)))
	assertDeliveredOnce(t, q, "m")
}

func TestACrashedPutBackOfTheLinkFallbackIsDeliveredOnce(t *testing.T) {
	q := newQueue(t, Options{})
	id, _ := q.Send(strings.NewReader("m"))
	c, _ := q.NewReceiver().Claim()
	n := ParseName(string(id))
	n.Attempts = 1
	linkName(t, c.Path(), filepath.Join(q.new, bucket(putBackTime(n)), n.String()))
	c.f.Close() // the claimer dies
	// A receiver claims the put-back copy before anyone recovers the other.
	if got := receiveBody(t, q.NewReceiver()); got != "m" {
		t.Fatalf("got %q", got)
	}
	if ids, err := q.Recover(); err != nil || len(ids) > 0 {
		t.Fatalf("Recover = %v, %v; want nothing left to recover", ids, err)
	}
}

func TestACrashedDeadLetteringOfTheLinkFallbackIsNotDelivered(t *testing.T) {
	q := newQueue(t, Options{})
	id, _ := q.Send(strings.NewReader("m"))
	c, _ := q.NewReceiver().Claim()
	n := ParseName(string(id))
	n.Attempts = 1
	linkName(t, c.Path(), filepath.Join(q.dlq, n.String()))
	c.f.Close() // the claimer dies
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, want ErrEmpty: the message is a dead letter", err)
	}
	if dead, _ := q.DeadLetters(); len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
}

func TestRenameNeverReplaces(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		noRenameat2 = fallback
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		os.WriteFile(a, []byte("a"), 0o600)
		os.WriteFile(b, []byte("b"), 0o600)
		if err := renameNoReplace(a, b); !errors.Is(err, fs.ErrExist) {
			t.Errorf("fallback %v: rename over a file: %v, want ErrExist", fallback, err)
		}
		if got, _ := os.ReadFile(b); string(got) != "b" {
			t.Errorf("fallback %v: the file renamed over reads %q", fallback, got)
		}
		if _, err := os.Stat(a); err != nil {
			t.Errorf("fallback %v: the file renamed is gone: %v", fallback, err)
		}
	}
	noRenameat2 = false
}

// A claim that finds its message's name in cur/ taken by the very same
// file (the stale half of a crashed claim) takes over that name, without
// waiting for a recovery.
func TestAClaimTakesOverAStaleSecondNameInCur(t *testing.T) {
	q := newQueue(t, Options{})
	id, _ := q.Send(strings.NewReader("m"))
	linkName(t, filepath.Join(q.new, messagesUnder(t, q.new)[0]), filepath.Join(q.cur, string(id)))
	if got := receiveBody(t, q.NewReceiver()); got != "m" {
		t.Fatalf("got %q", got)
	}
	assertEmptyDir(t, q.cur)
}

// A promotion out of .due/ that a crash left half done, the message both in
// .due/ and in new/, delivers the message once.
func TestACrashedPromotionOfTheLinkFallbackIsDeliveredOnce(t *testing.T) {
	t0 := time.Now()
	setClock(t, t0)
	q := newQueue(t, Options{})
	q.SendWith(strings.NewReader("m"), SendOptions{Due: t0.Add(time.Minute)})
	rel := messagesUnder(t, q.due)[0]
	due := ParseName(filepath.Base(rel)).Due
	linkName(t, filepath.Join(q.due, rel), filepath.Join(q.new, bucket(due), filepath.Base(rel)))
	setClock(t, t0.Add(2*time.Minute))
	assertDeliveredOnce(t, q, "m")
}
