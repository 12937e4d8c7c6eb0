package cmd_test

import (
	"strings"
	"testing"
)

// askOnTerminal runs pq with a pseudo-terminal as stdin and stderr, waits
// for its question, answers it, and returns the question, stdout and the
// exit status.
func askOnTerminal(t *testing.T, s *spoolEnv, answer string, args ...string) (question, stdout string, code int) {
	t.Helper()
	m, tty := openPTY(t)
	cmd := s.command(args...)
	var out strings.Builder
	cmd.Stdin, cmd.Stderr, cmd.Stdout = tty, tty, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	question = readUntil(t, m, "[y/N] ", 1)
	if _, err := m.WriteString(answer + "\n"); err != nil {
		t.Fatal(err)
	}
	code, err := waitBounded(cmd, stepLimit)
	if err != nil {
		t.Fatal(err)
	}
	return question, out.String(), code
}

// TestPurgeAndDeleteAskOnATerminal answers pq purge's and pq delete's
// questions on a terminal: anything but y keeps the queue as it was.
func TestPurgeAndDeleteAskOnATerminal(t *testing.T) {
	s := newSpool(t)
	s.run(t, []byte("a\nb\n"), []int{0}, "send", "--lines", "jobs")
	s.run(t, []byte("x"), []int{0}, "send", "jobs")
	s.run(t, nil, []int{0}, "recv", "--exec", "exit 100", "-j", "1", "--max-attempts", "1", "jobs")

	q, out, code := askOnTerminal(t, s, "n", "purge", "jobs")
	if !strings.Contains(q, "purge queue jobs: delete 3 dead letters (claims that live consumers hold are kept)?") {
		t.Errorf("question %q, want it to count the 3 dead letters", q)
	}
	if code != 2 || out != "" {
		t.Errorf("purge answered n: exit %d, stdout %q; want 2 and nothing", code, out)
	}
	if got := string(s.run(t, nil, []int{0}, "ls", "jobs")); strings.Count(got, "\n") != 3 {
		t.Fatalf("after a purge answered n the queue holds:\n%s", got)
	}
	_, out, code = askOnTerminal(t, s, "y", "purge", "--state", "dead", "jobs")
	if code != 0 || out != "deleted 3 messages\n" {
		t.Errorf("purge answered y: exit %d, stdout %q", code, out)
	}

	s.run(t, []byte("x"), []int{0}, "send", "jobs")
	q, _, code = askOnTerminal(t, s, "", "delete", "jobs")
	if !strings.Contains(q, "delete queue jobs with all its messages, dead letters included: 1 ready?") || code != 2 {
		t.Errorf("delete answered nothing: question %q, exit %d; want the question and 2", q, code)
	}
	_, _, code = askOnTerminal(t, s, "yes", "delete", "jobs")
	if code != 0 {
		t.Errorf("delete answered yes: exit %d", code)
	}
	if got := string(s.run(t, nil, []int{0}, "ls")); got != "" {
		t.Errorf("queues after the delete: %q", got)
	}
}
