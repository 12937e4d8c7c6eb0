package spool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// request sends a request with body to q and ends it when the test ends.
func request(t *testing.T, q *Queue, body string) *Request {
	t.Helper()
	r, err := q.Request(strings.NewReader(body), SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Withdraw() })
	return r
}

// waitReply waits up to 30 seconds for r's reply and returns its body.
func waitReply(t *testing.T, r *Request) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := r.Wait(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), nil
}

// places lists the entries of q's .replies/.
func places(t *testing.T, q *Queue) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(q.dir, dirReplies))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestARequestGetsItsReplyAndLeavesNothingBehind(t *testing.T) {
	q := newQueue(t, Options{})
	for _, body := range []string{"", "ping\n", "bin\x00\xff\n", strings.Repeat("large ", 1<<20)} {
		r := request(t, q, body)
		c, err := q.NewReceiver().Claim()
		if err != nil {
			t.Fatal(err)
		}
		if !c.Request() || c.ID() != r.ID() {
			t.Fatalf("claimed %s (request %v), want the request %s", c.ID(), c.Request(), r.ID())
		}
		if got := readAll(t, c); got != body {
			t.Fatalf("the request's body is %q, want %q", trunc(got), trunc(body))
		}
		reply := "re: " + body
		if err := q.Reply(c.ID(), strings.NewReader(reply)); err != nil {
			t.Fatal(err)
		}
		if err := q.Reply(c.ID(), strings.NewReader("second")); !errors.Is(err, ErrReplied) {
			t.Fatalf("a second reply: %v, want ErrReplied", err)
		}
		if err := q.Ack(c); err != nil {
			t.Fatal(err)
		}
		got, err := waitReply(t, r)
		if err != nil || got != reply {
			t.Fatalf("Wait = %q, %v; want %q", trunc(got), err, trunc(reply))
		}
		if p := places(t, q); len(p) != 0 {
			t.Fatalf(".replies/ holds %q after the reply was taken", p)
		}
		if err := q.Reply(c.ID(), strings.NewReader("late")); !errors.Is(err, ErrNoRequester) {
			t.Fatalf("a reply after the requester is done: %v, want ErrNoRequester", err)
		}
	}
}

// A request becomes visible in new/ only once its reply place has its ID.
func TestARequestIsNeverVisibleWithoutItsReplyPlace(t *testing.T) {
	q := newQueue(t, Options{})
	var checked, missing bool
	traceFS = func(op, path string) {
		if op == "rename" && strings.HasPrefix(path, q.new+"/") && strings.Contains(path, ",r=1") {
			checked = true
			id := ParseName(filepath.Base(path)).ID
			_, err := os.Stat(filepath.Join(q.dir, dirReplies, string(id)))
			missing = err != nil
		}
	}
	t.Cleanup(func() { traceFS = nil })
	request(t, q, "x")
	traceFS = nil
	if !checked || missing {
		t.Fatalf("renamed into new/ seen: %v; reply place missing then: %v", checked, missing)
	}
}

func TestADeadLetteredRequestFailsItsRequester(t *testing.T) {
	q := newQueue(t, Options{})
	r := request(t, q, "x")
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeadLetter(Reason{Cause: "exit status 3", Stderr: "boom\n"}); err != nil {
		t.Fatal(err)
	}
	_, err = waitReply(t, r)
	var de *DeadLetterError
	if !errors.Is(err, ErrDeadLettered) || !errors.As(err, &de) || de.Reason.Cause != "exit status 3" || de.ID != r.ID() {
		t.Fatalf("Wait = %v, want a DeadLetterError for %s with the cause", err, r.ID())
	}
	if p := places(t, q); len(p) != 0 {
		t.Fatalf(".replies/ holds %q after the requester failed", p)
	}
}

// Wait is woken by inotify: with polling out of reach it still returns as
// soon as the reply lands.
func TestWaitIsWokenByTheReply(t *testing.T) {
	noPolling(t)
	q := newQueue(t, Options{})
	r := request(t, q, "x")
	got := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rc, err := r.Wait(ctx)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		got <- string(b)
	}()
	if err := q.Reply(r.ID(), strings.NewReader("pong")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "pong" {
		t.Fatalf("Wait got %q, want pong", s)
	}
}

func TestAWithdrawnRequestIsNeverDelivered(t *testing.T) {
	q := newQueue(t, Options{})

	// Unclaimed: it is removed from new/ at once.
	r := request(t, q, "unclaimed")
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := r.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past its deadline: %v", err)
	}
	if err := r.Withdraw(); err != nil {
		t.Fatal(err)
	}
	if f := messagesUnder(t, q.new); len(f) != 0 {
		t.Fatalf("new/ still holds %q after the withdrawal", f)
	}

	// Likewise with a priority of its own, in its priority's tree.
	nine := 9
	r, err := q.Request(strings.NewReader("urgent"), SendOptions{Priority: &nine})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Withdraw(); err != nil {
		t.Fatal(err)
	}
	if f := messagesUnder(t, q.new); len(f) != 0 {
		t.Fatalf("new/ still holds %q after the withdrawal", f)
	}

	// Claimed at the withdrawal, then put back: the next claim drops it,
	// and the holder's reply is discarded.
	r = request(t, q, "claimed")
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Withdraw(); err != nil {
		t.Fatal(err)
	}
	if err := q.Reply(c.ID(), strings.NewReader("late")); !errors.Is(err, ErrNoRequester) {
		t.Fatalf("a reply after the withdrawal: %v, want ErrNoRequester", err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if c, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim after the withdrawal: %v, %v; want ErrEmpty", c, err)
	}
	if f := append(messagesUnder(t, q.new), messagesUnder(t, q.cur)...); len(f) != 0 {
		t.Fatalf("the withdrawn request is still in the queue: %q", f)
	}
	if p := places(t, q); len(p) != 0 {
		t.Fatalf(".replies/ holds %q after the withdrawals", p)
	}
}

// A reply that lands as its requester withdraws is never taken for a
// later request's: it goes with the place.
func TestAReplyWriterWhoseRequesterLeftIsDiscarded(t *testing.T) {
	q := newQueue(t, Options{})
	r := request(t, q, "x")
	w, err := q.NewReply(r.ID())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(w, bytes.NewReader([]byte("half a rep")))
	if err := r.Withdraw(); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, ErrNoRequester) {
		t.Fatalf("Commit after the withdrawal: %v, want ErrNoRequester", err)
	}
	if p := places(t, q); len(p) != 0 {
		t.Fatalf(".replies/ holds %q", p)
	}
}

func TestCleanRepliesRemovesOnlyWhatNobodyWaitsFor(t *testing.T) {
	q := newQueue(t, Options{})
	alive := request(t, q, "alive")
	dead := request(t, q, "dead")
	if err := q.Reply(dead.ID(), strings.NewReader("too late")); err != nil {
		t.Fatal(err)
	}
	dead.lock.Close() // as the requester's death does
	dead.done = true
	dir := filepath.Join(q.dir, dirReplies)
	for _, name := range []string{".new-old", ".new-fresh"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleReplyAge)
	if err := os.Chtimes(filepath.Join(dir, ".new-old"), old, old); err != nil {
		t.Fatal(err)
	}
	removed, err := q.CleanReplies()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(removed, " ") != ".new-old "+string(dead.ID()) {
		t.Fatalf("CleanReplies removed %q, want .new-old and %s", removed, dead.ID())
	}
	if p := strings.Join(places(t, q), " "); p != ".new-fresh "+string(alive.ID()) {
		t.Fatalf(".replies/ holds %q, want .new-fresh and the live requester's place", p)
	}
	// The dead requester's request is dropped when claimed; the live one's
	// is delivered.
	r := q.NewReceiver()
	c, err := r.Claim()
	if err != nil || c.ID() != alive.ID() {
		t.Fatalf("claim: %v, %v; want the live requester's request", c, err)
	}
	q.Ack(c)
	if c, err := r.Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, %v; want ErrEmpty", c, err)
	}
}

func TestRepliesToWhatCannotBeARequestAreRefused(t *testing.T) {
	q := newQueue(t, Options{})
	for _, id := range []ID{"", "../x", ".new-x", "job-1"} {
		if err := q.Reply(id, strings.NewReader("x")); !errors.Is(err, ErrNoMessage) {
			t.Errorf("Reply(%q): %v, want ErrNoMessage", id, err)
		}
	}
	id, err := q.Send(strings.NewReader("not a request"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Reply(id, strings.NewReader("x")); !errors.Is(err, ErrNoRequester) {
		t.Errorf("Reply to a plain message: %v, want ErrNoRequester", err)
	}
	for _, key := range []string{"pq-reply-to", "PQ_x", "Pq-y"} {
		if _, err := ParseHeader(key + "=1"); !errors.Is(err, ErrBadHeader) {
			t.Errorf("ParseHeader(%s=1): %v, want ErrBadHeader", key, err)
		}
	}
}

// An expired request fails its requester with the cause, whether it goes
// to the dead-letter queue or is dropped as the queue's settings say.
func TestAnExpiredRequestFailsItsRequester(t *testing.T) {
	for _, onExpiry := range []string{ExpiryDeadLetter, ExpiryDrop} {
		t.Run(onExpiry, func(t *testing.T) {
			q := newQueue(t, Options{})
			if err := q.Set(map[string]string{"on_expiry": onExpiry}); err != nil {
				t.Fatal(err)
			}
			r, err := q.Request(strings.NewReader("x"), SendOptions{Expires: time.Now().Add(-time.Second)})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Withdraw()
			if c, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
				t.Fatalf("claim = %v, %v; want ErrEmpty", c, err)
			}
			_, err = waitReply(t, r)
			var de *DeadLetterError
			if !errors.As(err, &de) || !strings.HasPrefix(de.Reason.Cause, CauseExpired) {
				t.Fatalf("Wait = %v, want a DeadLetterError whose cause says expired", err)
			}
			want := map[string]string{ExpiryDeadLetter: " was dead-lettered: expired", ExpiryDrop: " was dropped: expired (on_expiry = drop)"}[onExpiry]
			if !strings.HasSuffix(err.Error(), want) {
				t.Fatalf("Wait = %q, want it to end %q", err, want)
			}
		})
	}
}
