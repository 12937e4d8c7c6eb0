//go:build linux

package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pq/spool"
)

// claimRequest sends body as a request to a new queue and claims it.
func claimRequest(t *testing.T, body string) (*spool.Request, *Message) {
	t.Helper()
	q := newQueue(t)
	req, err := q.Request(strings.NewReader(body), spool.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { req.Withdraw() })
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Release() })
	return req, newMessage(q.Queue(), c)
}

// replyOf waits briefly for req's reply: the command committed it before
// it returned, so it is there or never comes.
func replyOf(t *testing.T, req *spool.Request) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rc, err := req.Wait(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func TestACommandAnswersARequestWithItsStdout(t *testing.T) {
	req, m := claimRequest(t, "ping")
	if !m.Request() {
		t.Fatal("Message.Request() = false for a request")
	}
	var stdout bytes.Buffer
	err := Command(`printf 're:'; cat; printf ':%s' "$PQ_REPLY_TO"`, CommandOptions{Stdout: &stdout})(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Errorf("the reply went to the worker's stdout too: %q", stdout.String())
	}
	got, err := replyOf(t, req)
	if want := "re:ping:" + string(req.ID()); err != nil || got != want {
		t.Fatalf("reply %q, %v; want %q", got, err, want)
	}
}

func TestAFailedCommandSendsNoReply(t *testing.T) {
	req, m := claimRequest(t, "ping")
	err := Command(`echo partial; exit 3`, CommandOptions{})(t.Context(), m)
	if err == nil {
		t.Fatal("exit 3 succeeded")
	}
	if _, err := replyOf(t, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a reply came from a failed command: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(spoolDir(t, m), ".replies", string(req.ID())))
	if len(ents) != 0 {
		t.Fatalf("the reply place holds %v after the failure", ents)
	}
}

func TestAReplyNobodyWaitsForIsDiscarded(t *testing.T) {
	req, m := claimRequest(t, "ping")
	req.Withdraw()
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	var stdout bytes.Buffer
	err := Command(`echo reply`, CommandOptions{Stdout: &stdout, Logger: logger})(t.Context(), m)
	if err != nil {
		t.Fatalf("the request's handling failed: %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("the discarded reply went to stdout: %q", stdout.String())
	}
	if !strings.Contains(log.String(), "nobody waits for the reply") {
		t.Errorf("no log line about the discarded reply: %q", log.String())
	}
}
