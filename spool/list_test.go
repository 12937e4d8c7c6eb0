package spool

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// seeingQueue makes a queue holding messages in every state: ready ones
// at priorities 4 and 9 and in an atomic batch, a delayed one, a claimed
// one (held until the test ends) and a dead letter. It returns the
// bodies of the ready ones in receiving order.
func seeingQueue(t *testing.T) (*Queue, []string) {
	t.Helper()
	q := newQueue(t, Options{NoSync: true})
	for _, b := range []string{"held", "dead"} {
		if _, err := q.Send(strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	held, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Release() })
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeadLetter(Reason{Cause: "exit status 100"}); err != nil {
		t.Fatal(err)
	}
	nine := 9
	send := func(body string, o SendOptions) {
		t.Helper()
		if _, err := q.SendWith(strings.NewReader(body), o); err != nil {
			t.Fatal(err)
		}
	}
	send("first", SendOptions{Headers: []Header{{Key: "K", Value: "v"}}})
	send("later", SendOptions{Due: time.Now().Add(time.Hour)})
	send("urgent", SendOptions{Priority: &nine})
	b := q.NewAtomicBatch()
	for _, body := range []string{"batch 1", "batch 2"} {
		if err := b.Add(strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	return q, []string{"urgent", "first", "batch 1", "batch 2"}
}

// snapshot returns every path under dir with its mode, size, mtime and a
// hash of its content, so that a test can tell that nothing changed.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d %d", path, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func bodyOf(t *testing.T, q *Queue, e Entry) string {
	t.Helper()
	f, err := q.OpenBody(e)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMessagesListInReceivingOrderAndChangeNothing(t *testing.T) {
	q, ready := seeingQueue(t)
	before := snapshot(t, q.Dir())

	var got []string
	var states []State
	for e, err := range q.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, bodyOf(t, q, e))
		states = append(states, e.State)
	}
	want := append(slices.Clone(ready), "later", "held", "dead")
	if !slices.Equal(got, want) {
		t.Errorf("bodies = %q, want %q", got, want)
	}
	wantStates := []State{StateReady, StateReady, StateReady, StateReady, StateDelayed, StateInflight, StateDead}
	if !slices.Equal(states, wantStates) {
		t.Errorf("states = %v, want %v", states, wantStates)
	}

	s, err := q.Summarize(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ready != 4 || s.Delayed != 1 || s.Inflight != 1 || s.Dead != 1 || s.SentAfter != 7 {
		t.Errorf("Summarize = %+v, want 4 ready, 1 delayed, 1 in flight, 1 dead, 7 sent", s)
	}
	if wantBytes := int64(len(strings.Join(want, ""))); s.Bytes != wantBytes {
		t.Errorf("Bytes = %d, want %d", s.Bytes, wantBytes)
	}
	if s.OldestReady.IsZero() || time.Since(s.OldestReady) > time.Minute {
		t.Errorf("OldestReady = %v, want a moment ago", s.OldestReady)
	}

	e, f, err := q.Peek("")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if e.Name.Priority != 9 {
		t.Errorf("Peek took %v, want the message of priority 9", e.Name)
	}
	if after := snapshot(t, q.Dir()); !slices.Equal(before, after) {
		t.Errorf("the spool changed:\nbefore %q\nafter  %q", before, after)
	}
}

func TestMessagesStopEarlyAndFilterStates(t *testing.T) {
	q, ready := seeingQueue(t)
	n := 0
	for e, err := range q.Messages(StateReady) {
		if err != nil {
			t.Fatal(err)
		}
		if got := bodyOf(t, q, e); got != ready[n] {
			t.Errorf("message %d = %q, want %q", n, got, ready[n])
		}
		if n++; n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("saw %d messages before the break, want 2", n)
	}
	var dead []Entry
	for e, err := range q.Messages(StateDead) {
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, e)
	}
	if len(dead) != 1 {
		t.Fatalf("dead = %v, want one", dead)
	}
	r, err := q.Reason(dead[0])
	if err != nil || r.Cause != "exit status 100" {
		t.Errorf("Reason = %+v, %v; want the recorded cause", r, err)
	}
}

func TestPeekByIDAndEmpty(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	if _, _, err := q.Peek(""); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Peek on an empty queue: %v, want ErrEmpty", err)
	}
	id, err := q.SendWith(strings.NewReader("body"), SendOptions{Headers: []Header{{Key: "A", Value: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	e, f, err := q.Peek(id)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	hs, err := q.Headers(e)
	if err != nil || len(hs) != 1 || hs[0] != (Header{Key: "A", Value: "1"}) {
		t.Errorf("Headers = %v, %v; want A=1", hs, err)
	}
	if _, _, err := q.Peek(ID("1795611122152629542.3923_9099cb77.host")); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Peek of an unknown id: %v, want ErrNoMessage", err)
	}
}
