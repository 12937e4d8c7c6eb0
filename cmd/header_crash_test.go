package cmd_test

import (
	"bufio"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestKilledSendersLeaveNoMessageWithoutItsHeaders kills senders of
// messages with headers at many points of a bulk send: every message that
// is in the queue afterwards has its headers, and every id printed is
// there. (What the killed sends left in tmp/ pq recover removes later.)
func TestKilledSendersLeaveNoMessageWithoutItsHeaders(t *testing.T) {
	t.Parallel()
	const q = "hdr"
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", q)
	var input strings.Builder
	for i := range 1200 {
		fmt.Fprintf(&input, "line %d\n", i)
	}
	printed := map[string]bool{}
	for round, after := range []int{0, 1, 10, 64, 500, 999, 1000, 1001} {
		cmd := s.command("send", "--lines", "-H", "k=v", "-H", fmt.Sprintf("round=%d", round), q)
		cmd.Stdin = strings.NewReader(input.String())
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		p := start(t, fmt.Sprintf("sender %d", round), cmd)
		br := bufio.NewReader(out)
		for range after {
			line, err := br.ReadString('\n')
			if err != nil {
				break // it finished, or died, first
			}
			printed[strings.TrimSuffix(line, "\n")] = true
		}
		if !p.exited() {
			p.cmd.Process.Kill()
		}
		<-p.done
	}
	metas := map[string]string{}
	for _, n := range names(t, s.dir(q, ".meta")) {
		metas[n] = readFile(t, filepath.Join(s.dir(q, ".meta"), n))
	}
	inQueue := map[string]bool{}
	for _, rel := range files(t, s.dir(q, "new")) {
		name := filepath.Base(rel)
		id, fields, _ := strings.Cut(name, ",")
		inQueue[id] = true
		if fields != "m=1" {
			t.Errorf("new/%s: no metadata in its name", rel)
			continue
		}
		if m, ok := metas[id]; !ok || !strings.HasPrefix(m, "header: k=v\nheader: round=") {
			t.Errorf("new/%s: metadata %q, want its headers", rel, m)
		}
	}
	for id := range printed {
		if !inQueue[id] {
			t.Errorf("id %s was printed but is not in the queue", id)
		}
	}
	t.Logf("%d messages in the queue, %d ids printed, %d metadata files, %d leftovers in tmp/",
		len(inQueue), len(printed), len(metas), len(names(t, s.dir(q, "tmp"))))
}
