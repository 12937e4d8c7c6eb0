package spool

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeStray makes an entry of the given kind at path.
func makeStray(t *testing.T, kind, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	var err error
	switch kind {
	case "named pipe":
		err = syscall.Mkfifo(path, 0o600)
	case "symbolic link":
		err = os.Symlink("/etc/passwd", path)
	case "directory":
		err = os.Mkdir(path, 0o700)
	case "socket":
		var l net.Listener
		l, err = net.Listen("unix", path)
		if err == nil {
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

var strayKinds = []string{"named pipe", "symbolic link", "directory", "socket"}

// strayKinds returns the kinds listed in .quarantine/.
func strays(t *testing.T, q *Queue) []string {
	t.Helper()
	list, err := q.Strays()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range list {
		kinds = append(kinds, s.Kind)
	}
	slices.Sort(kinds)
	return kinds
}

func TestStraysInCurAreMovedAsideAndNeverBlock(t *testing.T) {
	for _, kind := range strayKinds {
		t.Run(kind, func(t *testing.T) {
			q := newQueue(t, Options{})
			q.Send(strings.NewReader("ready"))
			makeStray(t, kind, filepath.Join(q.cur, "x"))
			done := make(chan error, 1)
			go func() { _, err := q.Recover(); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Recover: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Recover hangs on a stray in cur/")
			}
			if got := receiveBody(t, q.NewReceiver()); got != "ready" {
				t.Fatalf("got %q", got)
			}
			if got := strays(t, q); !slices.Equal(got, []string{kind}) {
				t.Fatalf("Strays = %v, want [%s]", got, kind)
			}
		})
	}
}

func TestStraysInNewAreMovedAsideAndNeverDelivered(t *testing.T) {
	for _, kind := range strayKinds {
		t.Run(kind, func(t *testing.T) {
			q := newQueue(t, Options{})
			q.Send(strings.NewReader("first"))
			b := filepath.Dir(filepath.Join(q.new, messagesUnder(t, q.new)[0]))
			makeStray(t, kind, filepath.Join(b, "0stray"))                   // inside a bucket, before the message
			makeStray(t, kind, filepath.Join(filepath.Dir(b), "notabucket")) // at depth 2
			makeStray(t, kind, filepath.Join(q.new, "zz"))                   // at the top
			q.Send(strings.NewReader("second"))
			r := q.NewReceiver()
			for _, want := range []string{"first", "second"} {
				if got := receiveBody(t, r); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
			if _, err := r.Claim(); !errors.Is(err, ErrEmpty) {
				t.Fatalf("claim: %v, want ErrEmpty", err)
			}
			if got := strays(t, q); len(got) != 3 {
				t.Fatalf("Strays = %v, want three %s", got, kind)
			}
		})
	}
}

// Files renamed into new/ anywhere, by any name, are messages: each is
// delivered once, body intact, under an ID of pq's own when its name would
// not do, and its original name is kept.
func TestForeignFilesAnywhereInNewAreAdopted(t *testing.T) {
	q := newQueue(t, Options{})
	q.Send(strings.NewReader("sent"))
	b := filepath.Dir(filepath.Join(q.new, messagesUnder(t, q.new)[0]))
	long := strings.Repeat("n", 240)
	files := map[string]string{
		filepath.Join(b, "job,x"):                  "malformed fields",
		filepath.Join(b, "job,a=1,a=2"):            "a field twice",
		filepath.Join(b, "job,a=99999999999"):      "a huge attempt count",
		filepath.Join(b, long):                     "a long name",
		filepath.Join(filepath.Dir(b), "99"):       "a file where a bucket should be",
		filepath.Join(filepath.Dir(b), "loose"):    "a file at depth 2",
		filepath.Join(q.new, "0000001"):            "a file named like a top bucket",
		filepath.Join(q.new, "plain.txt"):          "a plain name",
		filepath.Join(filepath.Dir(b), "..hidden"): "",
	}
	want := []string{"sent"}
	for path, body := range files {
		if body == "" {
			continue
		}
		putFile(t, q, strings.TrimPrefix(path, q.Dir()+"/"), body)
		want = append(want, body)
	}
	var got []string
	eachClaim(t, q.NewReceiver(), func(c *Claim) {
		if !wellFormed(c.name.String()) {
			t.Errorf("claimed under %q, not a name of pq's own", c.name.String())
		}
		got = append(got, readAll(t, c))
		// Fail each once: the name must take an attempt count.
		if c.Attempt() == 1 {
			if err := c.Retry(0); err != nil {
				t.Fatalf("retry: %v", err)
			}
			return
		}
		if err := c.DeadLetter(Reason{Cause: "test"}); err != nil {
			t.Fatal(err)
		}
	})
	slices.Sort(want)
	got = slices.Compact(slices.Sorted(slices.Values(got)))
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	dead, err := q.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	originals := map[string]bool{}
	for _, d := range dead {
		if d.Name.Attempts != 2 {
			t.Errorf("dead letter %s: %d attempts, want 2", d.Name, d.Name.Attempts)
		}
		originals[d.Original] = true
	}
	for _, name := range []string{"job,x", long, "plain.txt", "loose"} {
		if !originals[name] {
			t.Errorf("no dead letter says it was %q; originals %v", name, originals)
		}
	}
}

func TestARecoveredNameTakenInNewGetsAFreshID(t *testing.T) {
	q := newQueue(t, Options{})
	id, _ := q.Send(strings.NewReader("in new"))
	rel := messagesUnder(t, q.new)[0]
	// A copy of the same message, dead in cur/, whose recovery would land
	// on the name that is taken.
	putFile(t, q, filepath.Join(dirCur, string(id)), "dead claim")
	n := ParseName(string(id))
	n.Attempts = 1
	if err := os.Rename(filepath.Join(q.new, rel), filepath.Join(q.new, filepath.Dir(rel), n.String())); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Recover(); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	r := q.NewReceiver()
	got := []string{receiveBody(t, r), receiveBody(t, r)}
	slices.Sort(got)
	if !slices.Equal(got, []string{"dead claim", "in new"}) {
		t.Fatalf("delivered %q, want both messages", got)
	}
}

func TestANewerFormatIsRefused(t *testing.T) {
	q := newQueue(t, Options{})
	if b, err := os.ReadFile(filepath.Join(q.Dir(), formatName)); err != nil || string(b) != formatText(baseFormat) {
		t.Fatalf("stamp = %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(q.Dir(), formatName), []byte("pq queue format 99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, _ = Open(filepath.Dir(q.Dir()), q.Name(), Options{}) // as a new process would
	if _, err := q.Send(strings.NewReader("x")); !errors.Is(err, ErrFormat) {
		t.Errorf("Send: %v, want ErrFormat", err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrFormat) {
		t.Errorf("Claim: %v, want ErrFormat", err)
	}
	if err := q.Check(); !errors.Is(err, ErrFormat) {
		t.Errorf("Check: %v, want ErrFormat", err)
	}
}

func TestCleanMetaRemovesOnlyOrphans(t *testing.T) {
	q := newQueue(t, Options{})
	putFile(t, q, filepath.Join(dirNew, "foreign,x"), "kept")
	putFile(t, q, filepath.Join(dirNew, "retried,x"), "retried")
	r := q.NewReceiver()
	c, err := r.Claim() // adopts both
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Retry(time.Millisecond); err != nil { // due soon, in a bucket of its due time
		t.Fatal(err)
	}
	orphan := formatID(1)
	if err := q.writeMeta(orphan, Meta{OriginalName: "orphan"}, false); err != nil {
		t.Fatal(err)
	}
	setClock(t, time.Now().Add(48*time.Hour))
	if _, err := q.NewReceiver().Claim(); err != nil { // promotes the retry; the claim stays alive
		t.Fatal(err)
	}
	removed, err := q.CleanMeta(36 * time.Hour)
	if err != nil || len(removed) != 1 || removed[0] != orphan {
		t.Fatalf("CleanMeta = %v, %v; want only the orphan", removed, err)
	}
	if n := len(messagesUnder(t, filepath.Join(q.Dir(), dirMeta))); n != 2 {
		t.Fatalf(".meta/ holds %d files, want the two messages'", n)
	}
}

// pq's own names taken by something else degrade the queue, never stop it.
func TestOwnNamesTakenByStraysDoNotStopTheQueue(t *testing.T) {
	q := newQueue(t, Options{})
	makeStray(t, "directory", filepath.Join(q.Dir(), lockName))
	putFile(t, q, dirDue, "a file where .due/ should be")
	if _, err := q.Send(strings.NewReader("still flows")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := receiveBody(t, q.NewReceiver()); got != "still flows" {
		t.Fatalf("got %q", got)
	}
}

// With something else where .meta/ should be, a foreign file is still
// delivered, without the record of its old name, and cleaning up goes on.
func TestAForeignFileIsDeliveredWhenItsNameCannotBeRecorded(t *testing.T) {
	q := newQueue(t, Options{})
	putFile(t, q, dirMeta, "not a directory")
	putFile(t, q, filepath.Join(dirNew, "job,x"), "foreign")
	if got := receiveBody(t, q.NewReceiver()); got != "foreign" {
		t.Fatalf("got %q", got)
	}
	if _, err := q.CleanMeta(0); err != nil {
		t.Fatalf("CleanMeta: %v", err)
	}
}
