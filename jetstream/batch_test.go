package jetstream

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pq/queue"
)

func TestSendBatchKeepsOrderPastTheWindow(t *testing.T) {
	defer func(w int) { sendWindow = w }(sendWindow)
	sendWindow = 3
	q := newQueue(t, "batch", InitOptions{})
	var msgs []queue.Message
	for i := range 10 {
		m := queue.Message{Body: strings.NewReader(fmt.Sprint("m", i))}
		if i == 2 || i == 7 {
			m.DedupID = "same"
		}
		msgs = append(msgs, m)
	}
	ids, err := q.SendBatch(testCtx(t), msgs)
	if err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	// The 8th message is the 3rd's duplicate: nothing new, the 3rd's ID.
	want := []queue.ID{"1", "2", "3", "4", "5", "6", "7", "3", "8", "9"}
	if !slices.Equal(ids, want) {
		t.Fatalf("SendBatch IDs = %q, want %q", ids, want)
	}
	r := receiver(t, q)
	for i, b := range []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m8", "m9"} {
		c := claim(t, r)
		if got := body(t, c); got != b {
			t.Errorf("claim %d: body %q, want %q", i, got, b)
		}
		if err := c.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	wantEmpty(t, r)
}

func TestSendBatchStopsAtARefusedMessage(t *testing.T) {
	q := newQueue(t, "batch", InitOptions{})
	big := strings.Repeat("x", int(q.b.nc.MaxPayload())+1)
	msgs := []queue.Message{
		{Body: strings.NewReader("a")},
		{Body: strings.NewReader("b")},
		{Body: strings.NewReader(big)},
		{Body: strings.NewReader("d")},
	}
	ids, err := q.SendBatch(testCtx(t), msgs)
	if !errors.Is(err, ErrTooBig) || !slices.Equal(ids, []queue.ID{"1", "2"}) {
		t.Fatalf("SendBatch = %q, %v; want the IDs of the two before the big one, and ErrTooBig", ids, err)
	}
	st, err := q.Stat(testCtx(t))
	if err != nil || st.Ready != 2 {
		t.Errorf("Stat = %+v, %v; want the 2 messages before the refused one", st, err)
	}
}

// A batch claim takes up to n ready messages in order, each delivered
// once; an empty queue gives queue.ErrEmpty.
func TestClaimBatchTakesUpToN(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	var sent []queue.ID
	for i := range 5 {
		sent = append(sent, send(t, q, fmt.Sprint(i)))
	}
	r := receiver(t, q).(*Receiver)
	var got []queue.ID
	for _, n := range []int{3, 10} {
		cs, err := r.ClaimBatch(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) > n {
			t.Fatalf("a batch claim of %d gave %d", n, len(cs))
		}
		for _, c := range cs {
			if c.Attempt() != 1 {
				t.Errorf("%s claimed for attempt %d", c.ID(), c.Attempt())
			}
			got = append(got, c.ID())
			if err := c.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(sent) {
		t.Errorf("claimed %v, sent %v", got, sent)
	}
	if _, err := r.ClaimBatch(ctx, 4); !errors.Is(err, queue.ErrEmpty) {
		t.Errorf("a batch claim of an empty queue: %v, want ErrEmpty", err)
	}
}
