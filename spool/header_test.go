package spool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var someHeaders = []Header{{Key: "Content-Type", Value: "application/json"}, {Key: "to", Value: "ann, bob = friends"}}

// claimHeaders claims the next message and returns its headers.
func claimHeaders(t *testing.T, q *Queue) (*Claim, []Header) {
	t.Helper()
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	hs, err := c.Headers()
	if err != nil {
		t.Fatal(err)
	}
	return c, hs
}

// Headers stay with their message through a retry, a recovery, a dead
// letter and a redrive, and go with its ack.
func TestHeadersTravelWithTheMessage(t *testing.T) {
	q := newQueue(t, Options{})
	if _, err := q.SendWith(strings.NewReader("body"), SendOptions{Headers: someHeaders}); err != nil {
		t.Fatal(err)
	}
	c, hs := claimHeaders(t, q)
	if !slices.Equal(hs, someHeaders) || readAll(t, c) != "body" {
		t.Fatalf("sent: headers %v", hs)
	}
	c.Retry(0)
	c, hs = claimHeaders(t, q)
	if !slices.Equal(hs, someHeaders) {
		t.Fatalf("after a retry: %v", hs)
	}
	c.f.Close() // its consumer dies
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	c, hs = claimHeaders(t, q)
	if !slices.Equal(hs, someHeaders) {
		t.Fatalf("after a recovery: %v", hs)
	}
	if err := c.DeadLetter(Reason{Cause: "test"}); err != nil {
		t.Fatal(err)
	}
	dead, _ := q.DeadLetters()
	if len(dead) != 1 || !slices.Equal(dead[0].Headers, someHeaders) {
		t.Fatalf("dead letters: %+v", dead)
	}
	if _, err := q.Redrive(); err != nil {
		t.Fatal(err)
	}
	c, hs = claimHeaders(t, q)
	if !slices.Equal(hs, someHeaders) {
		t.Fatalf("after a redrive: %v", hs)
	}
	if err := q.Ack(c); err != nil {
		t.Fatal(err)
	}
	if left := messagesUnder(t, q.metaPath("")); len(left) > 0 {
		t.Fatalf(".meta/ keeps %v after the ack", left)
	}
}

// The metadata file is made durable and put in place, under the message's
// ID, before the message is renamed into new/.
func TestHeadersAreInPlaceBeforeTheirMessage(t *testing.T) {
	q := newQueue(t, Options{})
	steps := traceSteps(t)
	id, err := q.SendWith(strings.NewReader("body"), SendOptions{Headers: someHeaders})
	if err != nil {
		t.Fatal(err)
	}
	got := steps()
	meta := index(got, "fsync-dir", func(p string) bool { return p == filepath.Join(q.Dir(), dirMeta) })
	rename := index(got, "rename", func(p string) bool { return strings.HasSuffix(p, string(id)+",m=1") })
	if meta < 0 || rename < meta {
		t.Fatalf("steps %v: want .meta/ synced (%d) before the message's rename (%d)", got, meta, rename)
	}
	b, err := os.ReadFile(q.metaPath(id))
	if err != nil || string(b) != "header: Content-Type=application/json\nheader: to=ann, bob = friends\n" {
		t.Fatalf(".meta/%s = %q, %v", id, b, err)
	}
}

func TestBadHeadersAreRefused(t *testing.T) {
	q := newQueue(t, Options{})
	for _, hs := range [][]Header{
		{{Key: "", Value: "x"}},
		{{Key: "-x", Value: "x"}},
		{{Key: "a b", Value: "x"}},
		{{Key: strings.Repeat("k", 65), Value: "x"}},
		{{Key: "k", Value: "two\nlines"}},
		{{Key: "k", Value: "nul\x00"}},
		{{Key: "k", Value: "\xff"}},
		{{Key: "a-b", Value: "1"}, {Key: "A_B", Value: "2"}},
		{{Key: "big", Value: strings.Repeat("v", 4<<10)}},
	} {
		if _, err := q.SendWith(strings.NewReader("x"), SendOptions{Headers: hs}); !errors.Is(err, ErrBadHeader) {
			t.Errorf("headers %q: %v, want ErrBadHeader", hs, err)
		}
	}
	if s, _ := q.Stat(); s.Ready != 0 {
		t.Fatalf("%d messages sent with bad headers", s.Ready)
	}
	assertEmptyDir(t, q.tmp)
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{"to": "PQ_HEADER_TO", "Content-Type": "PQ_HEADER_CONTENT_TYPE", "a_b": "PQ_HEADER_A_B"} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}
