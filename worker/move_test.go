package worker

import (
	"errors"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"pq/spool"
)

// receiveAll acks every ready message of q and returns their bodies.
func receiveAll(t *testing.T, q *spool.Queue) []string {
	t.Helper()
	r := q.NewReceiver()
	defer r.Close()
	var got []string
	for {
		c, err := r.Claim()
		if errors.Is(err, spool.ErrEmpty) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c.Body())
		got = append(got, string(b))
		if err := q.Ack(c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestACommandWithToMovesItsOutputOnlyWhenItSucceeds(t *testing.T) {
	q := newQueue(t)
	to, err := spool.Open(filepath.Dir(q.Dir()), "next", spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	send(t, q, "a", "b", "fail", "c")
	h := Command(`b=$(cat); [ "$b" != fail ] || { echo partial; exit 1; }; echo "out $b"`, CommandOptions{To: to})
	err = Run(t.Context(), q.Queue(), h, Options{Jobs: 3, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := receiveAll(t, to)
	slices.Sort(got)
	if want := []string{"out a\n", "out b\n", "out c\n"}; !slices.Equal(got, want) {
		t.Fatalf("moved %q, want %q", got, want)
	}
	if left := receiveAll(t, q); len(left) != 0 {
		t.Fatalf("left in the queue: %q", left)
	}
	dl, err := q.DeadLetters()
	if err != nil || len(dl) != 1 {
		t.Fatalf("dead letters %v (%v), want the failed one", dl, err)
	}
}
