package cmd

import (
	"bytes"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	p := &progress{verb: "sent"}
	p.Add(1)
	if got, want := p.line(time.Second), "pq: 1 message sent, 1/s"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	p.Add(99)
	p.SetBytes(func() int64 { return 250 }, 1000)
	if got, want := p.line(4*time.Second), "pq: 100 messages sent, 25/s, 25% of the input read"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	p.SetTotal(150)
	if got, want := p.line(4*time.Second), "pq: 100 messages sent, 25/s, 50 left"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

// TestProgressWritesUnderTheLine: what others write clears the line
// first, a line they leave unfinished is not drawn over, and Done clears
// the line.
func TestProgressWritesUnderTheLine(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, verb: "handled", start: time.Now(), stop: make(chan struct{}), ended: make(chan struct{})}
	close(p.ended) // no redraw loop: the test draws
	p.draw()
	p.Write([]byte("log line\n"))
	p.Write([]byte("half a line"))
	p.draw()
	p.Write([]byte(" and the rest\n"))
	p.draw()
	p.Done()
	want := "\r\x1b[Kpq: 0 messages handled, 0/s\r\x1b[Klog line\nhalf a line and the rest\n\r\x1b[Kpq: 0 messages handled, 0/s\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("the terminal got\n%q\nwant\n%q", got, want)
	}
}

func TestNoProgressOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "sent")
	p.Add(3)
	p.SetTotal(4)
	p.Done()
	if p != nil || buf.Len() > 0 {
		t.Errorf("newProgress on a buffer = %v, wrote %q; want nil and nothing", p, buf.String())
	}
}
