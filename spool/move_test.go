package spool

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// twoQueues returns two created queues, jobs and out, under one root.
func twoQueues(t *testing.T) (*Queue, *Queue) {
	t.Helper()
	q := newQueue(t, Options{})
	out, err := Open(filepath.Dir(q.Dir()), "out", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Create(); err != nil {
		t.Fatal(err)
	}
	return q, out
}

// drainQ receives and acks every ready message of q and returns their
// bodies.
func drainQ(t *testing.T, q *Queue) []string {
	t.Helper()
	r := q.NewReceiver()
	defer r.Close()
	var got []string
	eachClaim(t, r, func(c *Claim) {
		got = append(got, readAll(t, c))
		if err := q.Ack(c); err != nil {
			t.Fatal(err)
		}
	})
	return got
}

// claimOne sends body to q with headers and priority 7, and claims it.
func claimOne(t *testing.T, q *Queue, body string) *Claim {
	t.Helper()
	p := 7
	if _, err := q.SendWith(strings.NewReader(body), SendOptions{Priority: &p, Headers: []Header{{Key: "Customer", Value: "42"}}}); err != nil {
		t.Fatal(err)
	}
	r := q.NewReceiver()
	defer r.Close()
	c, err := r.Claim()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leftovers lists what a move may leave behind: entries of .moving/ in
// q and staged files in out's tmp/.
func leftovers(t *testing.T, q, out *Queue) []string {
	t.Helper()
	var left []string
	filepath.WalkDir(filepath.Join(q.Dir(), dirMoving), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	ents, _ := os.ReadDir(out.tmp)
	for _, e := range ents {
		left = append(left, filepath.Join(out.tmp, e.Name()))
	}
	return left
}

// movers are the two ways a claim is moved: its file (pq mv), or an output
// written for it (pq recv --exec CMD --to).
var movers = []struct {
	name string
	move func(t *testing.T, c *Claim, to *Queue) (ID, error)
	out  func(body string) string // the output for an input body
}{
	{"MoveTo", func(t *testing.T, c *Claim, to *Queue) (ID, error) { return c.MoveTo(to) },
		func(body string) string { return body }},
	{"Output", func(t *testing.T, c *Claim, to *Queue) (ID, error) {
		o, err := c.NewOutput(to)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c.Body())
		if _, err := io.WriteString(o.File(), "out of "+string(b)); err != nil {
			t.Fatal(err)
		}
		return o.Commit()
	}, func(body string) string { return "out of " + body }},
}

func TestAMoveKeepsBodyPriorityAndHeaders(t *testing.T) {
	for _, m := range movers {
		t.Run(m.name, func(t *testing.T) {
			q, out := twoQueues(t)
			c := claimOne(t, q, "the body")
			id, err := m.move(t, c, out)
			if err != nil || id == "" {
				t.Fatalf("move: %q, %v", id, err)
			}
			if err := q.Ack(c); err != nil {
				t.Fatal(err)
			}
			r := out.NewReceiver()
			defer r.Close()
			got, err := r.Claim()
			if err != nil {
				t.Fatal(err)
			}
			h, err := got.Headers()
			if err != nil {
				t.Fatal(err)
			}
			if got.ID() != id || got.Priority() != 7 || len(h) != 1 || h[0] != (Header{Key: "Customer", Value: "42"}) || readAll(t, got) != m.out("the body") {
				t.Fatalf("moved message: id %s (want %s), priority %d, headers %v", got.ID(), id, got.Priority(), h)
			}
			out.Ack(got)
			if left := drainQ(t, q); len(left) != 0 {
				t.Fatalf("left in the first queue: %q", left)
			}
			if left := leftovers(t, q, out); len(left) != 0 {
				t.Fatalf("left behind: %q", left)
			}
		})
	}
}

// crashAtPoint makes the next move stop at point as if its process died.
func crashAtPoint(t *testing.T, point string) {
	moveCrash = func(p string) bool { return p == point }
	t.Cleanup(func() { moveCrash = nil })
}

func TestAMoveKilledAtAnyStepEndsExactlyOnce(t *testing.T) {
	// Each step where a mover may die, and what recovery must make of it:
	// the input back in its queue, or the output once in the target.
	cases := []struct {
		point      string
		handedOver bool
	}{
		{"staged", false},     // staged, no intent: the input goes back
		{"intent", true},      // staged and in .moving/: recovery hands over
		{"handed-over", true}, // in .moving/, staged gone: already handed over
		{"consumed", true},    // the same, and the output consumed before recovery
		{"recovered-twice", true},
	}
	for _, m := range movers {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.point, func(t *testing.T) {
				q, out := twoQueues(t)
				c := claimOne(t, q, "body")
				switch tc.point {
				case "staged", "intent":
					crashAtPoint(t, tc.point)
				}
				_, err := m.move(t, c, out)
				moveCrash = nil
				if tc.point == "staged" || tc.point == "intent" {
					if !errors.Is(err, errCrashed) {
						t.Fatalf("move: %v, want the simulated crash", err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				c.f.Close() // the mover dies: its lock goes
				var outputs []string
				if tc.point == "consumed" {
					outputs = drainQ(t, out)
				}
				if _, err := q.Recover(); err != nil {
					t.Fatal(err)
				}
				if tc.point == "recovered-twice" {
					if _, err := q.Recover(); err != nil {
						t.Fatal(err)
					}
				}
				outputs = append(outputs, drainQ(t, out)...)
				inputs := drainQ(t, q)
				if tc.handedOver {
					if !slices.Equal(outputs, []string{m.out("body")}) || len(inputs) != 0 {
						t.Fatalf("outputs %q, inputs left %q: want one output, no input", outputs, inputs)
					}
				} else if len(outputs) != 0 || !slices.Equal(inputs, []string{"body"}) {
					t.Fatalf("outputs %q, inputs %q: want no output, the input back", outputs, inputs)
				}
				for _, l := range leftovers(t, q, out) {
					if !strings.Contains(l, movePrefix) || tc.handedOver {
						t.Errorf("left behind: %s", l)
					}
				}
			})
		}
	}
}

func TestARetriedMoveStagesOverTheDeadAttemptsOutput(t *testing.T) {
	for _, m := range movers {
		t.Run(m.name, func(t *testing.T) {
			q, out := twoQueues(t)
			c := claimOne(t, q, "body")
			crashAtPoint(t, "staged")
			m.move(t, c, out)
			moveCrash = nil
			c.f.Close()
			if _, err := q.Recover(); err != nil {
				t.Fatal(err)
			}
			r := q.NewReceiver()
			defer r.Close()
			c, err := r.Claim()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.move(t, c, out); err != nil {
				t.Fatal(err)
			}
			q.Ack(c)
			if got := drainQ(t, out); !slices.Equal(got, []string{m.out("body")}) {
				t.Fatalf("outputs %q, want one", got)
			}
			if left := leftovers(t, q, out); len(left) != 0 {
				t.Fatalf("left behind: %q", left)
			}
		})
	}
}

func TestAStaleStagedOutputIsNeverPublishedAndIsCleanedUp(t *testing.T) {
	q, out := twoQueues(t)
	c := claimOne(t, q, "body")
	crashAtPoint(t, "staged")
	c.MoveTo(out)
	moveCrash = nil
	c.f.Close()
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Recover(); err != nil {
		t.Fatal(err)
	}
	// The input is handled otherwise (acked here): its staged output
	// must go with age, and never into the queue.
	if got := drainQ(t, q); len(got) != 1 {
		t.Fatalf("inputs %q, want the one put back", got)
	}
	removed, err := out.CleanTmp(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || len(drainQ(t, out)) != 0 {
		t.Fatalf("removed %q, want the staged output and its metadata", removed)
	}
}

func TestCleanTmpKeepsTheStagedOutputOfAMoveUnderWay(t *testing.T) {
	q, out := twoQueues(t)
	c := claimOne(t, q, "body")
	crashAtPoint(t, "intent")
	c.MoveTo(out)
	moveCrash = nil
	c.f.Close()
	if removed, err := out.CleanTmp(0); err != nil || len(removed) != 0 {
		t.Fatalf("CleanTmp removed %q (%v) of a move under way", removed, err)
	}
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	if got := drainQ(t, out); len(got) != 1 {
		t.Fatalf("outputs %q, want one", got)
	}
}

func TestConcurrentRecoveriesHandOverOnce(t *testing.T) {
	q, out := twoQueues(t)
	for range 20 {
		c := claimOne(t, q, "body")
		crashAtPoint(t, "intent")
		c.MoveTo(out)
		moveCrash = nil
		c.f.Close()
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := q.Recover(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := drainQ(t, out); len(got) != 20 {
		t.Fatalf("%d outputs, want 20", len(got))
	}
}

func TestAMoveWhoseStagedOutputVanishesPutsTheClaimBack(t *testing.T) {
	q, out := twoQueues(t)
	c := claimOne(t, q, "body")
	moveCrash = func(p string) bool {
		if p == "intent" {
			os.Remove(filepath.Join(out.tmp, stageName(q.Name(), c.ID())))
		}
		return false
	}
	t.Cleanup(func() { moveCrash = nil })
	if _, err := c.MoveTo(out); !errors.Is(err, errNotStaged) {
		t.Fatalf("move: %v, want errNotStaged", err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if got := drainQ(t, q); len(got) != 1 || len(drainQ(t, out)) != 0 {
		t.Fatalf("inputs %q: want the input back and no output", got)
	}
}

func TestMovingToItsOwnQueueIsRefused(t *testing.T) {
	q, _ := twoQueues(t)
	c := claimOne(t, q, "body")
	same, _ := Open(filepath.Dir(q.Dir()), q.Name(), Options{})
	if _, err := c.MoveTo(same); !errors.Is(err, ErrSameQueue) {
		t.Fatalf("move: %v, want ErrSameQueue", err)
	}
}

func TestClaimIDsFindsMessagesInEveryTreeAndBatch(t *testing.T) {
	q, _ := twoQueues(t)
	p := 9
	plain, _ := q.Send(strings.NewReader("plain"))
	high, _ := q.SendWith(strings.NewReader("high"), SendOptions{Priority: &p})
	b := q.NewAtomicBatch()
	addAll(t, b, SendOptions{}, "b1", "b2")
	ids, err := b.Commit()
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	delayed, _ := q.SendWith(strings.NewReader("later"), SendOptions{Due: time.Now().Add(time.Hour)})
	claims, err := q.ClaimIDs(plain, high, ids[1], delayed, "nonesuch")
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 3 || claims[plain] == nil || claims[high] == nil || claims[ids[1]] == nil {
		t.Fatalf("claimed %v, want the plain, the high and the second of the batch", claims)
	}
	if got := readAll(t, claims[ids[1]]); got != "b2" {
		t.Fatalf("batch message body %q", got)
	}
}

func TestAMovedRequestKeepsItsReplyAddress(t *testing.T) {
	for _, end := range []string{"reply", "dead letter"} {
		t.Run(end, func(t *testing.T) {
			q, out := twoQueues(t)
			req, err := q.Request(strings.NewReader("question"), SendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer req.Withdraw()
			r := q.NewReceiver()
			defer r.Close()
			c, err := r.Claim()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.MoveTo(out); err != nil {
				t.Fatal(err)
			}
			q.Ack(c)
			r2 := out.NewReceiver()
			defer r2.Close()
			moved, err := r2.Claim()
			if err != nil {
				t.Fatalf("claim of the moved request: %v (dropped as an orphan?)", err)
			}
			rq, id := moved.ReplyTo()
			if !moved.Request() || rq.Name() != q.Name() || id != req.ID() {
				t.Fatalf("moved request: request %v, reply to %s %s; want %s %s", moved.Request(), rq.Name(), id, q.Name(), req.ID())
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if end == "dead letter" {
				if err := moved.DeadLetter(Reason{Cause: "no"}); err != nil {
					t.Fatal(err)
				}
				if _, err := req.Wait(ctx); !errors.Is(err, ErrDeadLettered) {
					t.Fatalf("wait: %v, want ErrDeadLettered", err)
				}
				return
			}
			if err := rq.Reply(id, strings.NewReader("answer")); err != nil {
				t.Fatal(err)
			}
			out.Ack(moved)
			body, err := req.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			if b, _ := io.ReadAll(body); string(b) != "answer" {
				t.Fatalf("reply %q", b)
			}
		})
	}
}

func TestAnOutputsOwnHeadersGoOverTheInputs(t *testing.T) {
	q, out := twoQueues(t)
	c := claimOne(t, q, "in")
	o, err := c.NewOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.SetHeaders([]Header{{Key: "bad key", Value: "x"}}); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("SetHeaders of a bad key: %v, want ErrBadHeader", err)
	}
	if err := o.SetHeaders([]Header{{Key: "customer", Value: "43"}, {Key: "Step", Value: "2"}}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(o.File(), "out")
	if _, err := o.Commit(); err != nil {
		t.Fatal(err)
	}
	q.Ack(c)
	r := out.NewReceiver()
	defer r.Close()
	oc, err := r.Claim()
	if err != nil {
		t.Fatal(err)
	}
	hs, err := oc.Headers()
	want := []Header{{Key: "customer", Value: "43"}, {Key: "Step", Value: "2"}}
	if err != nil || !slices.Equal(hs, want) {
		t.Fatalf("output headers %v, %v; want %v", hs, err, want)
	}
}
