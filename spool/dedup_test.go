package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sendKey sends body with the dedup id key and fails the test on error.
func sendKey(t *testing.T, q *Queue, key, body string) (ID, bool) {
	t.Helper()
	id, dup, err := q.SendDedup(strings.NewReader(body), SendOptions{DedupID: key})
	if err != nil {
		t.Fatalf("send %q: %v", key, err)
	}
	return id, dup
}

// messages counts the messages in q, wherever they are.
func messages(t *testing.T, q *Queue) int {
	t.Helper()
	s, err := q.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return s.Ready + s.Delayed + s.Claimed + s.Dead
}

// entryPath returns the path of the entry of key for a message sent at id's
// time, committed or pending.
func entryPath(q *Queue, key string, id ID, pending bool) string {
	b := &Batch{one: true}
	name, _ := b.dedupName(key)
	ns, _ := idNanos(string(id))
	if pending {
		name = pendingPrefix + name
	}
	return filepath.Join(q.dedupBucket(ns), name)
}

func TestDedupSecondSendMakesNoMessage(t *testing.T) {
	q := newQueue(t, Options{})
	first, dup := sendKey(t, q, "order-42", "one")
	if dup {
		t.Fatal("the first send was taken for a duplicate")
	}
	again, dup := sendKey(t, q, "order-42", "two")
	if !dup || again != first {
		t.Fatalf("second send: %s, duplicate %v; want %s, true", again, dup, first)
	}
	other, dup := sendKey(t, q, "order-43", "three")
	if dup || other == first {
		t.Fatalf("another key: %s, duplicate %v; want a new message", other, dup)
	}
	// SendWith with a dedup id returns the first ID too.
	id, err := q.SendWith(strings.NewReader("four"), SendOptions{DedupID: "order-42"})
	if err != nil || id != first {
		t.Fatalf("SendWith: %s, %v; want %s", id, err, first)
	}
	if n := messages(t, q); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
	if got := receiveBody(t, q.NewReceiver()); got != "one" {
		t.Fatalf("first body %q, want the first send's", got)
	}
	assertNoFiles(t, q.tmp)
	if _, err := os.Stat(entryPath(q, "order-42", first, false)); err != nil {
		t.Fatalf("committed entry: %v", err)
	}
}

// A delayed message with headers and a priority dedups the same way.
func TestDedupWithOtherOptions(t *testing.T) {
	q := newQueue(t, Options{})
	p := 9
	o := SendOptions{DedupID: "k", Due: time.Now().Add(time.Hour), Headers: []Header{{Key: "a", Value: "b"}}, Priority: &p}
	first, dup, err := q.SendDedup(strings.NewReader("x"), o)
	if err != nil || dup {
		t.Fatalf("first: %v, duplicate %v", err, dup)
	}
	again, dup, err := q.SendDedup(strings.NewReader("y"), o)
	if err != nil || !dup || again != first {
		t.Fatalf("second: %s, %v, duplicate %v; want %s", again, err, dup, first)
	}
	if s, err := q.Stat(); err != nil || s.Delayed != 1 || s.Ready != 0 {
		t.Fatalf("stat %+v, %v: want one delayed message", s, err)
	}
	if names, _ := readDirNames(filepath.Join(q.dir, dirMeta)); len(names) != 1 {
		t.Fatalf(".meta/ holds %v, want the first message's file only", names)
	}
	assertNoFiles(t, q.tmp)
}

// The dedup id still counts once its message was received and acked.
func TestDedupOutlivesTheMessage(t *testing.T) {
	q := newQueue(t, Options{})
	first, _ := sendKey(t, q, "k", "body")
	receiveBody(t, q.NewReceiver())
	if id, dup := sendKey(t, q, "k", "body"); !dup || id != first {
		t.Fatalf("after the ack: %s, duplicate %v; want %s, true", id, dup, first)
	}
	if n := messages(t, q); n != 0 {
		t.Fatalf("%d messages, want 0", n)
	}
}

func TestDedupWindowExpires(t *testing.T) {
	at := time.Now()
	setClock(t, at)
	q := newQueue(t, Options{})
	first, _ := sendKey(t, q, "k", "1")
	setClock(t, at.Add(DefaultDedupWindow-time.Second))
	if id, dup := sendKey(t, q, "k", "2"); !dup || id != first {
		t.Fatalf("inside the window: %s, duplicate %v", id, dup)
	}
	setClock(t, at.Add(DefaultDedupWindow+time.Second))
	second, dup := sendKey(t, q, "k", "3")
	if dup || second == first {
		t.Fatalf("past the window: %s, duplicate %v; want a new message", second, dup)
	}
	// The new message's entry counts from its own send.
	setClock(t, at.Add(DefaultDedupWindow+2*time.Second))
	if id, dup := sendKey(t, q, "k", "4"); !dup || id != second {
		t.Fatalf("after the second: %s, duplicate %v; want %s", id, dup, second)
	}
	if n := messages(t, q); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestDedupWindowIsAQueueSetting(t *testing.T) {
	at := time.Now()
	setClock(t, at)
	q := newQueue(t, Options{Settings: Settings{DedupWindow: time.Minute}})
	first, _ := sendKey(t, q, "k", "1")
	setClock(t, at.Add(2*time.Minute))
	second, dup := sendKey(t, q, "k", "2")
	if dup {
		t.Fatal("a configured window of 1m kept a key for 2m")
	}
	// The queue's own setting wins over the configuration's.
	if err := q.Set(map[string]string{"dedup_window": "1h"}); err != nil {
		t.Fatal(err)
	}
	setClock(t, at.Add(50*time.Minute))
	if id, dup := sendKey(t, q, "k", "3"); !dup || id != second || id == first {
		t.Fatalf("window 1h, 48m after the second send: %s, duplicate %v; want %s", id, dup, second)
	}
	for _, bad := range []string{"0s", "-1m", "25h", "5", "soon"} {
		if err := q.Set(map[string]string{"dedup_window": bad}); !errors.Is(err, ErrBadSetting) {
			t.Errorf("dedup_window %q: %v, want ErrBadSetting", bad, err)
		}
	}
}

func TestDedupIDLimits(t *testing.T) {
	q := newQueue(t, Options{})
	if _, _, err := q.SendDedup(strings.NewReader("x"), SendOptions{DedupID: strings.Repeat("k", MaxDedupID+1)}); !errors.Is(err, ErrBadDedupID) {
		t.Fatalf("a dedup id of %d bytes: %v, want ErrBadDedupID", MaxDedupID+1, err)
	}
	// Any bytes, up to the limit.
	for _, key := range []string{strings.Repeat("k", MaxDedupID), "\x00/..\n\xff", "../../etc"} {
		if _, dup := sendKey(t, q, key, "x"); dup {
			t.Fatalf("key %q: a duplicate on its first send", key)
		}
		if _, dup := sendKey(t, q, key, "x"); !dup {
			t.Fatalf("key %q: no duplicate on its second send", key)
		}
	}
	b := q.NewBatch()
	defer b.Close()
	if err := b.AddWith(strings.NewReader("x"), SendOptions{DedupID: "k"}); !errors.Is(err, ErrDedupBatch) {
		t.Fatalf("a batch with a dedup id: %v, want ErrDedupBatch", err)
	}
	assertNoFiles(t, q.tmp)
}

// Senders of one key at once, each with its own commit lock descriptor,
// make exactly one message per key, and all report its ID.
func TestDedupConcurrentSendersMakeOneMessage(t *testing.T) {
	q := newQueue(t, Options{})
	// 160 senders queue for the lock: on a busy machine the last may wait
	// longer than the usual bound, past which a dedup send fails.
	saved := commitLockWait
	commitLockWait = time.Minute
	t.Cleanup(func() { commitLockWait = saved })
	const keys, senders = 20, 8
	var mu sync.Mutex
	got := map[string]map[ID]int{}
	fresh := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, keys*senders)
	for k := range keys {
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("key-%d", k)
				id, dup, err := q.SendDedup(strings.NewReader(key), SendOptions{DedupID: key})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if got[key] == nil {
					got[key] = map[ID]int{}
				}
				got[key][id]++
				if !dup {
					fresh[key]++
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for k := range keys {
		key := fmt.Sprintf("key-%d", k)
		if len(got[key]) != 1 || fresh[key] != 1 {
			t.Errorf("%s: ids %v, %d sends not duplicates; want one id, one fresh send", key, got[key], fresh[key])
		}
	}
	if n := messages(t, q); n != keys {
		t.Fatalf("%d messages, want %d", n, keys)
	}
}

// A send with a dedup id never commits without the commit lock, where a
// plain send goes ahead.
func TestDedupNeedsTheCommitLock(t *testing.T) {
	q := newQueue(t, Options{})
	saved := commitLockWait
	commitLockWait = 50 * time.Millisecond
	t.Cleanup(func() { commitLockWait = saved })
	f, err := os.OpenFile(filepath.Join(q.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.SendDedup(strings.NewReader("x"), SendOptions{DedupID: "k"}); !errors.Is(err, ErrDedupLock) {
		t.Fatalf("dedup send under a held lock: %v, want ErrDedupLock", err)
	}
	if _, err := q.Send(strings.NewReader("y")); err != nil {
		t.Fatalf("plain send under a held lock: %v", err)
	}
	if n := messages(t, q); n != 1 {
		t.Fatalf("%d messages, want 1 (the plain send's)", n)
	}
	assertNoFiles(t, q.tmp)
	if _, err := os.Stat(filepath.Join(q.dir, dirDedup)); !os.IsNotExist(err) {
		t.Fatalf("the failed dedup send left .dedup/: %v", err)
	}
}

// The pending entry is durable before the message is renamed into new/;
// the message's directories are synced before the entry is marked
// committed.
func TestDedupEntryIsDurableBeforeTheMessage(t *testing.T) {
	q := newQueue(t, Options{})
	steps := traceSteps(t)
	id, _ := sendKey(t, q, "k", "x")
	got := steps()
	pending := entryPath(q, "k", id, true)
	is := func(want string) func(string) bool { return func(p string) bool { return p == want } }
	create, fsync := index(got, "create", is(pending)), index(got, "fsync", is(pending))
	tmpDir := index(got, "fsync-dir", is(q.tmp))
	entryDir := index(got, "fsync-dir", is(filepath.Dir(pending)))
	rename := index(got, "rename", func(p string) bool { return strings.HasPrefix(p, q.new) })
	mark := index(got, "rename", is(entryPath(q, "k", id, false)))
	newDir := index(got, "fsync-dir", is(q.new))
	switch {
	case create < 0 || fsync < create || entryDir < fsync || tmpDir < 0:
		t.Fatalf("steps %v: want the entry created, synced, its directory and tmp/ synced", got)
	case rename < entryDir || rename < tmpDir:
		t.Fatalf("steps %v: the message was renamed before its entry was durable", got)
	case newDir < rename || mark < newDir:
		t.Fatalf("steps %v: the entry was marked before the message was durable", got)
	}
}

// crashedSend leaves what a sender of key that died after writing its
// pending entry leaves: a file in tmp/ and the entry, which records an ID
// sent at `at`. It returns the ID, the file's name and the entry's path.
func crashedSend(t *testing.T, q *Queue, key string, at time.Time) (ID, string, string) {
	t.Helper()
	id := formatID(at.UnixNano())
	tmp, _ := newID()
	if err := os.WriteFile(filepath.Join(q.tmp, string(tmp)), []byte("lost "+key), 0o600); err != nil {
		t.Fatal(err)
	}
	path := entryPath(q, key, id, true)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(string(id)+"\n"+string(tmp)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, string(tmp), path
}

// Each point at which a sender can die with its entry pending, built on
// disk, then a retry with the same key.
func TestDedupPendingEntries(t *testing.T) {
	for _, tc := range []struct {
		name string
		// crash leaves the state; it returns the ID of a message that
		// was placed, "" if none was.
		crash func(t *testing.T, q *Queue) ID
		dup   bool // the retry is a duplicate of the crashed send
		left  int  // messages in the queue after the retry
		tmp   int  // files left in tmp/ for recovery to remove
	}{
		{"died before its rename", func(t *testing.T, q *Queue) ID {
			crashedSend(t, q, "k", time.Now())
			return ""
		}, false, 1, 0},
		{"died with its entry half written", func(t *testing.T, q *Queue) ID {
			id, _, path := crashedSend(t, q, "k", time.Now())
			os.WriteFile(path, []byte(id[:5]), 0o600)
			return ""
		}, false, 1, 1},
		{"died after its rename", func(t *testing.T, q *Queue) ID {
			id, _ := sendKey(t, q, "k", "placed")
			unmark(t, q, "k", id)
			return id
		}, true, 1, 0},
		{"died after its rename, message acked since", func(t *testing.T, q *Queue) ID {
			id, _ := sendKey(t, q, "k", "placed")
			unmark(t, q, "k", id)
			receiveBody(t, q.NewReceiver())
			return id
		}, true, 0, 0},
		{"died after its rename, message dead-lettered", func(t *testing.T, q *Queue) ID {
			id, _ := sendKey(t, q, "k", "placed")
			unmark(t, q, "k", id)
			c, err := q.NewReceiver().Claim()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.DeadLetter(Reason{Cause: "test"}); err != nil {
				t.Fatal(err)
			}
			return id
		}, true, 1, 0},
		{"died between link and unlink", func(t *testing.T, q *Queue) ID {
			id, tmp, _ := crashedSend(t, q, "k", time.Now())
			dir := filepath.Join(q.new, bucket(time.Now().UnixNano()))
			os.MkdirAll(dir, 0o700)
			if err := os.Link(filepath.Join(q.tmp, tmp), filepath.Join(dir, string(id))); err != nil {
				t.Fatal(err)
			}
			return id
		}, true, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue(t, Options{})
			placed := tc.crash(t, q)
			id, dup := sendKey(t, q, "k", "retry")
			switch {
			case dup != tc.dup:
				t.Fatalf("retry: duplicate %v, want %v", dup, tc.dup)
			case tc.dup && id != placed:
				t.Fatalf("retry: %s, want the crashed send's %s", id, placed)
			}
			if n := messages(t, q); n != tc.left {
				t.Fatalf("%d messages after the retry, want %d", n, tc.left)
			}
			// The entry is settled: committed, and a third send is a
			// duplicate of the retry's answer.
			if _, err := os.Stat(entryPath(q, "k", id, false)); err != nil {
				t.Fatalf("entry after the retry: %v", err)
			}
			if again, dup := sendKey(t, q, "k", "third"); !dup || again != id {
				t.Fatalf("third send: %s, duplicate %v; want %s", again, dup, id)
			}
			if tmp, _ := readDirNames(q.tmp); len(tmp) != tc.tmp {
				t.Fatalf("tmp/ keeps %v, want %d files", tmp, tc.tmp)
			}
		})
	}
}

// unmark turns the committed entry of key for id back into a pending one,
// as a crash between the message's rename and the entry's leaves it.
func unmark(t *testing.T, q *Queue, key string, id ID) {
	t.Helper()
	if err := os.Rename(entryPath(q, key, id, false), entryPath(q, key, id, true)); err != nil {
		t.Fatal(err)
	}
}

// A pending entry from before the window counts for nothing, even in the
// bucket where the new entry goes.
func TestDedupOldPendingEntryIsReplaced(t *testing.T) {
	at := bucketStartAhead()
	setClock(t, at)
	q := newQueue(t, Options{Settings: Settings{DedupWindow: time.Second}})
	id, tmp, _ := crashedSend(t, q, "k", at)
	os.Link(filepath.Join(q.tmp, tmp), filepath.Join(q.tmp, tmp+".2")) // placed, as far as the entry can tell
	setClock(t, at.Add(2*time.Second))
	got, dup := sendKey(t, q, "k", "new")
	if dup || got == id {
		t.Fatalf("%s, duplicate %v: want a new message", got, dup)
	}
	if again, dup := sendKey(t, q, "k", "again"); !dup || again != got {
		t.Fatalf("third send: %s, duplicate %v; want %s", again, dup, got)
	}
}

// bucketStartAhead returns a time ten seconds into the next bucket of
// .dedup/, for tests that need a bucket to themselves.
func bucketStartAhead() time.Time {
	return time.Unix(0, (time.Now().UnixNano()/dedupSpan+1)*dedupSpan+10e9)
}

func TestDedupExpiredBucketsAreRemoved(t *testing.T) {
	at := bucketStartAhead()
	setClock(t, at)
	q := newQueue(t, Options{})
	old, _ := sendKey(t, q, "k", "old")
	crashedSend(t, q, "pending", at)
	oldBucket := filepath.Dir(entryPath(q, "k", old, false))
	// Within the window, nothing goes.
	if removed, err := q.CleanDedup(); err != nil || len(removed) != 0 {
		t.Fatalf("CleanDedup inside the window: %v, %v; want nothing", removed, err)
	}
	leftover := filepath.Join(q.dir, dirDedup, oldPrefix+"0000001.1")
	if err := os.MkdirAll(filepath.Join(leftover, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A sender that makes a new bucket removes the expired ones.
	later := at.Add(2 * time.Duration(dedupSpan))
	setClock(t, later)
	sendKey(t, q, "k2", "new")
	if _, err := os.Stat(oldBucket); !os.IsNotExist(err) {
		t.Fatalf("expired bucket %s: %v, want it removed", oldBucket, err)
	}
	if _, dup := sendKey(t, q, "k", "again"); dup {
		t.Fatal("a key of an expired bucket is still taken")
	}
	removed, err := q.CleanDedup()
	if err != nil || len(removed) != 1 || !strings.HasPrefix(removed[0], filepath.Join(dirDedup, oldPrefix)) {
		t.Fatalf("CleanDedup: %v, %v; want the leftover of a removal", removed, err)
	}
}

// pq recover's part: pending entries older than the window go, with the
// buckets wholly older than it; committed ones and recent pending ones stay.
func TestCleanDedupRemovesOldPendingEntries(t *testing.T) {
	at := bucketStartAhead().Add(15 * time.Minute) // old is in the same bucket
	setClock(t, at)
	q := newQueue(t, Options{})
	id, _ := sendKey(t, q, "k", "x")
	old := at.Add(-2 * DefaultDedupWindow)
	_, _, stale := crashedSend(t, q, "stale", old)
	_, _, fresh := crashedSend(t, q, "fresh", at)
	removed, err := q.CleanDedup()
	if err != nil {
		t.Fatal(err)
	}
	staleRel, _ := filepath.Rel(q.dir, stale)
	if len(removed) != 1 || removed[0] != staleRel {
		t.Fatalf("removed %v, want [%s]", removed, staleRel)
	}
	for _, p := range []string{entryPath(q, "k", id, false), fresh} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
}
