package jetstream

import (
	"strings"
	"testing"

	"pq/queue"
)

func TestEncode(t *testing.T) {
	for _, c := range []struct{ name, stream, subject string }{
		{"jobs", "PQ_jobs", "pq.jobs"},
		{"a.b_c-d", "PQ_a~b_c-d", "pq.a~b_c-d"},
	} {
		if s := StreamName(c.name); s != c.stream {
			t.Errorf("StreamName(%q) = %q, want %q", c.name, s, c.stream)
		}
		if s := Subject(c.name); s != c.subject {
			t.Errorf("Subject(%q) = %q, want %q", c.name, s, c.subject)
		}
		if n, ok := QueueOfStream(c.stream); !ok || n != c.name {
			t.Errorf("QueueOfStream(%q) = %q, %v", c.stream, n, ok)
		}
	}
	for _, s := range []string{"PQDLQ_x", "PQADV_x", "OTHER", "PQ_a.b", "PQ_", "PQ_~a"} {
		if n, ok := QueueOfStream(s); ok {
			t.Errorf("QueueOfStream(%q) = %q, want none", s, n)
		}
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"jobs", "a.b", "a_2E", "x~y", "A-b_c.d", strings.Repeat("a.", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if queue.ValidName(name) != nil {
			return
		}
		enc := Encode(name)
		back, err := Decode(enc)
		if err != nil || back != name {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", name, back, err)
		}
		for _, s := range []string{StreamName(name), DeadStreamName(name), advisoryStreamName(name)} {
			if len(s) > 255 || strings.ContainsAny(s, " \t\r\n.*>/\\") {
				t.Errorf("%q is no stream name", s)
			}
		}
		if strings.Count(Subject(name), ".") != 1 {
			t.Errorf("subject %q has more than two tokens", Subject(name))
		}
	})
}
