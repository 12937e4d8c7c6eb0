package jetstream

import (
	"bytes"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"pq/queue"
)

// wire encodes h as nats.go puts headers on the wire (values trimmed of
// spaces and tabs, CR and LF written as spaces) and decodes it as nats.go
// does.
func wire(t *testing.T, h nats.Header) nats.Header {
	var b bytes.Buffer
	b.WriteString("NATS/1.0\r\n")
	clean := strings.NewReplacer("\r", " ", "\n", " ")
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k + ": " + clean.Replace(textproto.TrimString(v)) + "\r\n")
		}
	}
	b.WriteString("\r\n")
	out, err := nats.DecodeHeadersMsg(b.Bytes())
	if err != nil {
		t.Fatalf("decode %q: %v", b.String(), err)
	}
	return out
}

func FuzzHeaders(f *testing.F) {
	f.Add("a", "1", "b", " lead")
	f.Add("k", "trail\t", "K2", "x\ry")
	f.Add("x", "", "y", `"quoted"`)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		hs := []queue.Header{{Key: k1, Value: v1}, {Key: k2, Value: v2}}
		if checkHeaders(hs) != nil {
			return
		}
		h := nats.Header{}
		putHeaders(h, hs)
		got, err := getHeaders(wire(t, h))
		if err != nil || !slices.Equal(got, hs) {
			t.Fatalf("headers %q came back as %q, %v", hs, got, err)
		}
	})
}

func TestForeignHeaders(t *testing.T) {
	h := nats.Header{"b": {"2"}, "a": {"1"}, "Nats-Msg-Id": {"x"}, "Pq-Time": {"t"}}
	got, err := getHeaders(h)
	want := []queue.Header{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("headers of a message another client sent: %q, %v; want %q", got, err, want)
	}
}
