package jetstream

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"pq/jetstream/natstest"
	"pq/queue"
)

func init() {
	// Tests wait for pull requests and sweeps in tenths of a second, not
	// in seconds.
	pollWait = 200 * time.Millisecond
	sweepEvery = 100 * time.Millisecond
}

// testCtx returns a context that ends with the test, or after a bound.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects to url and closes the backend when the test ends.
func dial(t *testing.T, url string) *Backend {
	t.Helper()
	b, err := Dial(testCtx(t), url, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial(%s): %v", url, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// newQueue starts a server and returns the queue called name on it,
// initialized with o.
func newQueue(t *testing.T, name string, o InitOptions) *Queue {
	t.Helper()
	s := natstest.Start(t)
	b := dial(t, s.URL())
	if err := b.Init(testCtx(t), name, o); err != nil {
		t.Fatalf("Init: %v", err)
	}
	q, err := b.Queue(name)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// send sends body with headers hs and returns its ID.
func send(t *testing.T, q *Queue, body string, hs ...queue.Header) queue.ID {
	t.Helper()
	id, err := q.Send(testCtx(t), queue.Message{Body: strings.NewReader(body), Headers: hs})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return id
}

// receiver returns a receiver of q.
func receiver(t *testing.T, q *Queue) queue.Receiver {
	t.Helper()
	r, err := q.NewReceiver(testCtx(t))
	if err != nil {
		t.Fatalf("NewReceiver: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// claim claims a message, waiting up to a few seconds for one.
func claim(t *testing.T, r queue.Receiver) queue.Claim {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	c, err := r.Claim(ctx, true)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return c
}

// wantEmpty checks that r has nothing to claim now.
func wantEmpty(t *testing.T, r queue.Receiver) {
	t.Helper()
	c, err := r.Claim(testCtx(t), false)
	if !errors.Is(err, queue.ErrEmpty) {
		id := queue.ID("")
		if c != nil {
			id = c.ID()
		}
		t.Fatalf("Claim(no wait) = %q, %v; want ErrEmpty", id, err)
	}
}

// body reads c's body.
func body(t *testing.T, c queue.Claim) string {
	t.Helper()
	b, err := io.ReadAll(c.Body())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// deadLetters lists q's dead letters.
func deadLetters(t *testing.T, q *Queue) []DeadLetter {
	t.Helper()
	var ds []DeadLetter
	for d, err := range q.Dead(testCtx(t)) {
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		ds = append(ds, d)
	}
	return ds
}
