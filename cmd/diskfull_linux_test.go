package cmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallDisk mounts a tmpfs of size bytes for the test and returns it. It
// needs root, as CI runs; elsewhere the test is skipped, saying why.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("mounting a small tmpfs needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("pqtest", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// A bulk send into a queue whose disk fills up commits and prints what
// fits, then fails for the rest: with min_free, refused before the disk is
// full (exit 3); without, at the disk's own ENOSPC (exit 2). Either way
// every printed id is in the queue with its body, nothing else is, tmp/
// holds nothing, and the queue works again once there is room.
func TestABulkSendOnAFullDiskSendsWhatFits(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, minFree string
		code          int
	}{
		{"min_free", "256KiB", 3},
		{"enospc", "0", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpool(t)
			s.root = smallDisk(t, "2m")
			s.env = append(s.env, "PQ_ROOT="+s.root)
			s.run(t, nil, []int{0}, "init", "--set", "min_free="+tt.minFree, "q")
			line := strings.Repeat("x", 4000)
			// 4 MB into 2 MB, from a file: input that never runs dry
			// commits only when a batch is full.
			input := filepath.Join(t.TempDir(), "input")
			os.WriteFile(input, []byte(strings.Repeat(line+"\n", 1000)), 0o600)
			out, stderr := s.runPQ(t, "", []int{tt.code}, "send", "--lines", "q", input)
			ids := strings.Fields(out)
			if len(ids) == 0 || len(ids) == 1000 {
				t.Fatalf("%d ids printed; want some, not all; stderr: %s", len(ids), stderr)
			}
			if !strings.Contains(stderr, "pq: error: ") || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Fatalf("stderr %q: want one error line (and maybe a hint)", stderr)
			}
			if left := files(t, filepath.Join(s.root, "q", "tmp")); len(left) != 0 {
				t.Errorf("tmp/ holds %q", left)
			}
			queued := files(t, filepath.Join(s.root, "q", "new"))
			if len(queued) != len(ids) {
				t.Fatalf("%d messages in new/, %d ids printed", len(queued), len(ids))
			}
			for _, q := range queued {
				b, err := os.ReadFile(filepath.Join(s.root, "q", "new", q))
				if err != nil || string(b) != line {
					t.Fatalf("%s holds %d bytes, %v", q, len(b), err)
				}
			}
			// Room again: drained, the queue takes and gives messages.
			got, _ := s.runPQ(t, "", []int{0}, "recv", "--all", "--lines", "q")
			if n := strings.Count(got, "\n"); n != len(ids) {
				t.Fatalf("recv --all got %d messages, want %d", n, len(ids))
			}
			s.send(t, "q", "again")
			if got, _ := s.runPQ(t, "", []int{0}, "recv", "q"); got != "again" {
				t.Fatalf("recv after the disk had room again: %q", got)
			}
		})
	}
}
