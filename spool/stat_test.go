package spool

import (
	"strings"
	"testing"
	"time"
)

func TestStatCountsMessagesByState(t *testing.T) {
	q := newQueue(t, Options{})
	for _, b := range []string{"held", "delayed", "dead", "ready", "ready too"} {
		q.Send(strings.NewReader(b))
	}
	held, _ := q.NewReceiver().Claim() // claimed while the test runs
	defer held.Release()
	c, _ := q.NewReceiver().Claim()
	c.Retry(time.Hour)
	c, _ = q.NewReceiver().Claim()
	c.DeadLetter(Reason{Cause: "exit status 100"})

	s, err := q.Stat()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Ready: 2, Delayed: 1, Claimed: 1, Dead: 1}
	if s != want {
		t.Fatalf("Stat() = %+v, want %+v", s, want)
	}
}
