package cmd_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestKilledWorkerFreesItsSlot: a worker with --max-workers 1 killed
// outright while its command runs frees its slot at once, though the
// orphaned command still runs and holds its message: the next worker with
// --max-workers 1 handles the other message.
func TestKilledWorkerFreesItsSlot(t *testing.T) {
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	s.run(t, []byte("hang\nquick\n"), []int{0}, "send", "--lines", "q")
	dir := t.TempDir()
	pidFile, release := filepath.Join(dir, "pid"), filepath.Join(dir, "release")
	job := `read x; if [ "$x" = hang ]; then echo $$ >` + pidFile + `.tmp; mv ` + pidFile + `.tmp ` + pidFile +
		`; while [ ! -e ` + release + ` ]; do sleep 0.01; done; fi`
	p := start(t, "pq recv --exec", s.command("recv", "--exec", job, "--max-workers", "1", "q"))
	waitUntil(t, "the first job to start", func() bool { _, err := os.Stat(pidFile); return err == nil }, p)
	p.kill(t)
	t.Cleanup(func() { os.WriteFile(release, nil, 0o600) }) // ends the orphan

	s.run(t, nil, []int{0}, "recv", "--exec", job, "--max-workers", "1", "q")
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The orphan's claim ends with it.
	waitUntil(t, "the orphaned job to end", func() bool { return gone(pid) })
	s.run(t, nil, []int{0}, "recover", "q")
	if got := string(s.run(t, nil, []int{0}, "recv", "--all", "--lines", "q")); got != "hang\n" {
		t.Errorf("the queue holds %q, want the orphan's message alone, back after recovery", got)
	}
}

// gone reports whether process pid has ended: it no longer exists, or is a
// zombie that its new parent has yet to reap.
func gone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(after, "Z")
}
