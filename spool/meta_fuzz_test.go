package spool

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzMeta checks that a metadata file reads back as it was written, for
// every original name, headers that checkHeaders accepts, and reply
// address (a value may end in '\r', which a line scanner would drop);
// and that reading any bytes at all never panics.
func FuzzMeta(f *testing.F) {
	f.Add("job,x", "Content-Type", "text/plain", "jobs", "1764074682123456789.42_9f3a0c1e.host")
	f.Add("", "to", "ann, bob", "", "")
	f.Add("a\nb\"c", "K", "v=w: x", "q", "id")
	f.Add("", "K", "ends in CR\r", "", "")
	f.Fuzz(func(t *testing.T, original, key, value, replyQueue, replyID string) {
		m := Meta{OriginalName: original}
		if checkHeaders([]Header{{Key: key, Value: value}}) == nil {
			m.Headers = []Header{{Key: key, Value: value}}
		}
		if ValidName(replyQueue) == nil && replyID != "" && !strings.ContainsAny(replyID, "\r\n") {
			m.ReplyQueue, m.ReplyID = replyQueue, ID(replyID)
		}
		got, err := decodeMeta(bytes.NewReader(m.encode()))
		if err != nil {
			t.Fatalf("decodeMeta(encode(%+v)): %v", m, err)
		}
		if len(m.Headers) == 0 {
			m.Headers = nil
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("decodeMeta(encode(%+v)) = %+v", m, got)
		}
		// Any bytes at all: no panic.
		decodeMeta(strings.NewReader(original + "\n" + value))
	})
}

// FuzzHeader checks that a header pq takes is one it can carry: KEY=VALUE
// splits at the first '=', and the environment variable it becomes is a
// name a shell can use.
func FuzzHeader(f *testing.F) {
	f.Add("Content-Type=text/plain")
	f.Add("to=ann, bob")
	f.Add("pq-reply-to=x")
	f.Add("a=b=c")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHeader(s)
		if err != nil {
			return
		}
		if h.Key+"="+h.Value != s || strings.Contains(h.Key, "=") {
			t.Fatalf("ParseHeader(%q) = %+v", s, h)
		}
		env := EnvName(h.Key)
		for i := 0; i < len(env); i++ {
			c := env[i]
			if !(c == '_' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("EnvName(%q) = %q, not a shell variable name", h.Key, env)
			}
		}
	})
}

// FuzzSettings checks that a settings file pq accepts reads back the same
// after pq writes it out again, and that no file makes the reader panic.
func FuzzSettings(f *testing.F) {
	f.Add([]byte("ttl = \"90s\"\non_expiry = \"drop\"\n"))
	f.Add([]byte("allow_senders = \"alice, group:web\"\n# comment\n\ndedup_window = \"1h\"\n"))
	f.Add([]byte("ttl = 90s\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kv, err := parseSettings("s", b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		for k, v := range kv {
			out.WriteString(k + " = " + strconv.Quote(v) + "\n")
		}
		again, err := parseSettings("s", out.Bytes())
		if err != nil || !reflect.DeepEqual(again, kv) {
			t.Fatalf("settings %q read as %v, written as %q, read back as %v, %v", b, kv, out.Bytes(), again, err)
		}
	})
}
