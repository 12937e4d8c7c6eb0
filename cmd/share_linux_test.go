package cmd_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// sharers are the three users of the sharing tests: the queue's owner, a
// member of its group, and someone else. Their ids need no entries in
// /etc/passwd: the test runs pq as them with setuid credentials.
const (
	ownerUID, memberUID, otherUID = 54320, 54321, 54322
	shareGID                      = 54330
)

// sharing is a spool that the three users can reach, and pq where they
// can run it.
type sharing struct {
	t        *testing.T
	bin, cfg string
	root     string
}

func newSharing(t *testing.T) *sharing {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("running pq as three users needs root (CI runs as root)")
	}
	top := t.TempDir()
	// t.TempDir makes 0700 directories: open the way down for the users.
	for d := top; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	s := &sharing{t: t, bin: filepath.Join(top, "pq"), cfg: filepath.Join(top, "cfg"), root: filepath.Join(top, "spool")}
	b, err := os.ReadFile(buildPQ(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(s.cfg, 0o755)
	if err := os.Mkdir(s.root, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chown(s.root, ownerUID, ownerUID)
	return s
}

// as runs pq as the user uid (in the queue's group when member is set)
// and returns its exit status, stdout and stderr.
func (s *sharing) as(uid int, member bool, stdin string, args ...string) (int, string, string) {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = []string{"PQ_ROOT=" + s.root, "XDG_CONFIG_HOME=" + s.cfg, "HOME=/", "PATH=/usr/bin:/bin"}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
	if member {
		cred.Groups = []uint32{shareGID}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errb.String()
	}
	s.t.Fatalf("run pq %v as %d: %v", args, uid, err)
	return 0, "", ""
}

// Every row of the README's table of a shared queue: what the owner, a
// member of the group and anyone else may do, in each mode; a refusal is
// exit 2 with one line naming the queue and what was denied, and changes
// nothing.
func TestSharedQueuesLetEachUserDoWhatTheTableSays(t *testing.T) {
	for _, mode := range []string{"both", "recv"} {
		t.Run(mode, func(t *testing.T) {
			s := newSharing(t)
			q := "q"
			if code, _, errs := s.as(ownerUID, true, "", "init", "--group", fmt.Sprint(shareGID), "--mode", mode, q); code != 0 {
				t.Fatalf("init as the owner: exit %d: %s", code, errs)
			}
			send := func(uid int, member bool) int {
				code, _, _ := s.as(uid, member, "from "+fmt.Sprint(uid), "send", q)
				return code
			}
			// Send.
			if code := send(ownerUID, true); code != 0 {
				t.Fatalf("the owner's send: exit %d", code)
			}
			want := map[string]int{"both": 0, "recv": 2}[mode]
			if code := send(memberUID, true); code != want {
				t.Errorf("a member's send: exit %d, want %d", code, want)
			}
			if code := send(otherUID, false); code != 2 {
				t.Errorf("another's send: exit %d, want 2", code)
			}
			if left := files(t, filepath.Join(s.root, q, "tmp")); len(left) != 0 {
				t.Errorf("refused sends left %q in tmp/", left)
			}
			if mode == "recv" {
				// A member who drops a file into new/ by hand does not
				// send it: receivers dead-letter it, sender not allowed.
				drop := exec.Command("/bin/sh", "-c", "echo dropped >"+filepath.Join(s.root, q, "new", "dropped"))
				drop.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: memberUID, Gid: memberUID, Groups: []uint32{shareGID}}}
				if err := drop.Run(); err != nil {
					t.Fatalf("a member's file into new/: %v", err)
				}
				s.as(ownerUID, true, "", "recover", q) // walks the queue, as receivers do
				if _, out, _ := s.as(ownerUID, true, "", "recv", "--all", q); strings.Contains(out, "dropped") {
					t.Fatalf("a member's file dropped into new/ was delivered: %q", out)
				}
				if _, out, _ := s.as(ownerUID, true, "", "dlq", q); !strings.Contains(out, "sender not allowed") {
					t.Fatalf("pq dlq: %q, want the dropped file as sender not allowed", out)
				}
				send(ownerUID, true)
				send(ownerUID, true)
			}
			s.as(ownerUID, true, "", "send", q) // one more of the owner's
			ready := func() int {
				_, out, _ := s.as(ownerUID, true, "", "ls", "--state", "ready", q)
				return strings.Count(out, "\n")
			}
			n := ready()
			// List, peek: members yes, others no, and nothing changes.
			for _, args := range [][]string{{"ls", q}, {"peek", q}, {"stat", q}} {
				if code, _, errs := s.as(memberUID, true, "", args...); code != 0 {
					t.Errorf("a member's pq %v: exit %d: %s", args, code, errs)
				}
				code, _, errs := s.as(otherUID, false, "", args...)
				if code != 2 || strings.Count(strings.TrimSpace(errs), "\n") > 1 || !strings.Contains(errs, "permission denied") {
					t.Errorf("another's pq %v: exit %d, stderr %q; want exit 2, a line saying permission denied", args, code, errs)
				}
			}
			if got := ready(); got != n {
				t.Fatalf("%d ready after listing, want %d", got, n)
			}
			// Receive: members yes, others no.
			if code, body, errs := s.as(memberUID, true, "", "recv", q); code != 0 || !strings.HasPrefix(body, "from ") {
				t.Errorf("a member's recv: exit %d, %q: %s", code, body, errs)
			}
			if code, _, _ := s.as(otherUID, false, "", "recv", q); code != 2 || ready() != n-1 {
				t.Errorf("another's recv: exit %d, %d ready; want exit 2 and %d ready", code, ready(), n-1)
			}
			// Dead letters and their retry; pause and resume; purge.
			s.as(ownerUID, true, "", "recv", "--exec", "exit 100", "-n", "1", q)
			for _, args := range [][]string{{"retry", "--all", q}, {"pause", q}, {"resume", q}} {
				if code, _, _ := s.as(otherUID, false, "", args...); code != 2 {
					t.Errorf("another's pq %v: exit %d, want 2", args, code)
				}
				want := 0
				if mode == "recv" && args[0] == "pause" {
					want = 2 // tmp/, where a pause is written, is the owner's
				}
				if code, _, errs := s.as(memberUID, true, "", args...); code != want {
					t.Errorf("a member's pq %v: exit %d, want %d: %s", args, code, want, errs)
				}
			}
			if mode == "recv" {
				// The owner pauses; a member may resume.
				s.as(ownerUID, true, "", "pause", q)
				if code, _, errs := s.as(memberUID, true, "", "resume", q); code != 0 {
					t.Errorf("a member's resume of the owner's pause: exit %d: %s", code, errs)
				}
			}
			if code, _, _ := s.as(otherUID, false, "", "purge", "--yes", q); code != 2 {
				t.Errorf("another's purge: exit %d, want 2", code)
			}
			if code, _, errs := s.as(memberUID, true, "", "purge", "--yes", q); code != 0 || ready() != 0 {
				t.Errorf("a member's purge: exit %d, %d left: %s", code, ready(), errs)
			}
		})
	}
}

// A second member of the group, for the drop box.
const member2UID = 54323

// A queue shared in mode send is a drop box: members send into it and can
// do nothing else, and cannot find or read each other's messages; the
// owner receives them, each from the member who sent it.
func TestADropBoxTakesMessagesFromMembersAndShowsThemNothing(t *testing.T) {
	s := newSharing(t)
	q := "box"
	if code, _, errs := s.as(ownerUID, true, "", "init", "--group", fmt.Sprint(shareGID), "--mode", "send", q); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errs)
	}
	code, receipt, errs := s.as(memberUID, true, "a secret order", "send", q)
	if code != 0 || len(strings.TrimSpace(receipt)) != 32 {
		t.Fatalf("a member's send: exit %d, %q: %s", code, receipt, errs)
	}
	if code, out, _ := s.as(memberUID, true, "one\ntwo\n", "send", "--lines", q); code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("a member's send --lines: exit %d, %q", code, out)
	}
	if code, _, errs := s.as(memberUID, true, "x", "send", "-p", "9", q); code != 2 || !strings.Contains(errs, "drop box") {
		t.Errorf("a member's send -p 9: exit %d: %s; want exit 2 saying drop box", code, errs)
	}
	for _, args := range [][]string{{"ls", q}, {"recv", q}, {"peek", q}, {"stat", q}, {"pause", q}, {"purge", "--yes", q}, {"retry", "--all", q}, {"dlq", q}} {
		if code, _, errs := s.as(memberUID, true, "", args...); code != 2 || !strings.Contains(errs, "permission denied") {
			t.Errorf("a member's pq %v: exit %d, %q; want exit 2, permission denied", args, code, errs)
		}
	}
	if code, _, _ := s.as(otherUID, false, "x", "send", q); code != 2 {
		t.Errorf("another's send: exit %d, want 2", code)
	}
	// Another member can neither list the inbox nor read the queue.
	look := exec.Command("/bin/ls", filepath.Join(s.root, q, "inbox"))
	look.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: member2UID, Gid: member2UID, Groups: []uint32{shareGID}}}
	if out, err := look.CombinedOutput(); err == nil {
		t.Errorf("another member listed the inbox: %q", out)
	}
	if code, _, _ := s.as(member2UID, true, "", "recv", q); code != 2 {
		t.Errorf("another member's recv: exit %d, want 2", code)
	}
	// The owner receives all three, each from the member.
	code, out, errs := s.as(ownerUID, true, "", "recv", "--all", "--lines", "--headers", q)
	if code != 0 || !strings.Contains(out, "a secret order") || !strings.Contains(out, "one") || !strings.Contains(out, "two") ||
		strings.Count(out, fmt.Sprintf("pq-sender-uid=%d", memberUID)) != 3 {
		t.Fatalf("the owner's recv: exit %d, %q: %s", code, out, errs)
	}
	if left := files(t, filepath.Join(s.root, q, "inbox")); len(left) != 0 {
		t.Errorf("the inbox holds %q once all was received", left)
	}

	// Capacity: members cannot read the queue's limits, so the limits
	// hold against what the owner takes from the inbox, and what has no
	// room waits there.
	s.as(ownerUID, true, "", "init", "--set", "max_messages=1", q)
	s.as(memberUID, true, "first", "send", q)
	s.as(memberUID, true, "second", "send", q)
	s.as(ownerUID, true, "", "recover", q)
	if left := files(t, filepath.Join(s.root, q, "inbox")); len(left) != 1 {
		t.Fatalf("the inbox holds %q with max_messages=1 and one in the queue; want the other", left)
	}
	for _, want := range []string{"first", "second"} {
		if code, out, errs := s.as(ownerUID, true, "", "recv", q); code != 0 || out != want {
			t.Fatalf("the owner's recv: exit %d, %q, want %q: %s", code, out, want, errs)
		}
	}
}

// A member's send into a drop box killed half way leaves nothing that a
// receiver takes: the body is in the inbox under a dot name until it is
// whole, fsynced and renamed.
func TestADropKilledHalfWayIsNeverReceived(t *testing.T) {
	s := newSharing(t)
	q := "box"
	s.as(ownerUID, true, "", "init", "--group", fmt.Sprint(shareGID), "--mode", "send", q)
	r, w := pipe(t)
	cmd := exec.Command(s.bin, "send", q)
	cmd.Env = []string{"PQ_ROOT=" + s.root, "XDG_CONFIG_HOME=" + s.cfg, "HOME=/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: memberUID, Gid: memberUID, Groups: []uint32{shareGID}}}
	cmd.Stdin = r
	p := start(t, "pq send", cmd, r)
	w.Write([]byte("half of a body"))
	inbox := filepath.Join(s.root, q, "inbox")
	waitUntil(t, "the drop to begin", func() bool { return len(files(t, inbox)) == 1 }, p)
	p.cmd.Process.Kill()
	p.wait(t)
	w.Close()
	if code, out, _ := s.as(ownerUID, true, "", "recv", q); code != 1 {
		t.Fatalf("the owner's recv after a killed drop: exit %d, %q; want 1, nothing", code, out)
	}
	if left := files(t, inbox); len(left) != 1 || !strings.HasPrefix(left[0], ".tmp-") {
		t.Fatalf("the inbox holds %q, want the half-written drop under its dot name", left)
	}
}
