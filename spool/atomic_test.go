package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// addAll adds the bodies to b.
func addAll(t *testing.T, b *Batch, o SendOptions, bodies ...string) {
	t.Helper()
	for _, body := range bodies {
		if err := b.AddWith(strings.NewReader(body), o); err != nil {
			t.Fatal(err)
		}
	}
}

// numbered returns n bodies "prefix i".
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %d", prefix, i)
	}
	return out
}

func TestAnAtomicBatchAppearsWholeAndInOrder(t *testing.T) {
	for _, n := range []int{2, bulkSync + 10} { // fsynced files, and syncfs
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			q := newQueue(t, Options{})
			q.Send(strings.NewReader("before"))
			b := q.NewAtomicBatch()
			defer b.Close()
			addAll(t, b, SendOptions{Headers: []Header{{Key: "k", Value: "v"}}}, numbered("m", n)...)
			// Written, not committed: nothing of it is in the queue.
			if got := messagesUnder(t, q.new); len(got) != 1 {
				t.Fatalf("before the commit new/ holds %v", got)
			}
			ids, err := b.Commit()
			if err != nil || len(ids) != n {
				t.Fatalf("commit: %d ids, %v", len(ids), err)
			}
			q.Send(strings.NewReader("after"))
			dirs := batchDirs(t, q)
			if len(dirs) != 1 || !strings.HasPrefix(filepath.Base(dirs[0]), string(ids[0])+",b="+fmt.Sprint(n)) {
				t.Fatalf("batch directories %v, want one named after %s", dirs, ids[0])
			}
			var got []string
			r := q.NewReceiver()
			eachClaim(t, r, func(c *Claim) {
				got = append(got, readAll(t, c))
				if hs, err := c.Headers(); strings.HasPrefix(got[len(got)-1], "m ") && (err != nil || len(hs) != 1) {
					t.Errorf("%s: headers %v, %v", c.ID(), hs, err)
				}
			})
			want := append(append([]string{"before"}, numbered("m", n)...), "after")
			if !slices.Equal(got, want) {
				t.Fatalf("received %d messages %q..., want %d in order", len(got), got[:min(len(got), 3)], len(want))
			}
			if strays, err := q.Strays(); err != nil || len(strays) != 0 {
				t.Fatalf("strays %v, %v: a batch's directory is no stray", strays, err)
			}
			drain(t, q.NewReceiver())
			if dirs := batchDirs(t, q); len(dirs) != 0 {
				t.Fatalf("the drained batch's directory is still there: %v", dirs)
			}
			if b, _ := os.ReadFile(filepath.Join(q.Dir(), formatName)); string(b) != formatText(batchFormat) {
				t.Fatalf("format %q, want %q", b, formatText(batchFormat))
			}
		})
	}
}

// batchDirs lists the directories of atomic batches under new/ and .due/.
func batchDirs(t *testing.T, q *Queue) []string {
	t.Helper()
	var dirs []string
	for _, top := range []string{q.new, q.due} {
		filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && isBatch(d.Name()) {
				dirs = append(dirs, path)
			}
			return nil
		})
	}
	return dirs
}

func TestAnUncommittedAtomicBatchIsNeverSeenAndIsCleanedUp(t *testing.T) {
	q := newQueue(t, Options{})
	b := q.NewAtomicBatch()
	addAll(t, b, SendOptions{}, "a", "b", "c")
	// The sender dies here: its directory stays in tmp/.
	stage := b.stage
	if _, err := q.NewReceiver().Claim(); err != ErrEmpty {
		t.Fatalf("claim: %v, want ErrEmpty", err)
	}
	setClock(t, time.Now().Add(48*time.Hour))
	removed, err := q.CleanTmp(36 * time.Hour)
	if err != nil || len(removed) != 1 {
		t.Fatalf("CleanTmp removed %v, %v; want the batch's directory", removed, err)
	}
	if _, err := os.Lstat(stage); !os.IsNotExist(err) {
		t.Fatalf("%s is still there", stage)
	}
}

func TestADelayedAtomicBatchMovesWhole(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	p := 7
	b := q.NewAtomicBatch()
	defer b.Close()
	addAll(t, b, SendOptions{Due: time.Now().Add(time.Hour), Priority: &p}, "x", "y")
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	q.Send(strings.NewReader("plain"))
	if got := drain(t, q.NewReceiver()); !slices.Equal(got, []string{"plain"}) {
		t.Fatalf("received %q before the batch was due", got)
	}
	setClock(t, time.Now().Add(2*time.Hour))
	q.Send(strings.NewReader("plain again"))
	if got := drain(t, q.NewReceiver()); !slices.Equal(got, []string{"x", "y", "plain again"}) {
		t.Fatalf("received %q once due, want the batch first (priority 7)", got)
	}
}

func TestAnAtomicBatchWorksWithoutRenameat2(t *testing.T) {
	noRenameat2 = true
	t.Cleanup(func() { noRenameat2 = false })
	q := newQueue(t, Options{})
	b := q.NewAtomicBatch()
	defer b.Close()
	addAll(t, b, SendOptions{}, "a", "b")
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, q.NewReceiver()); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("received %q", got)
	}
}
