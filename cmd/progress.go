package cmd

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often a progress line is redrawn.
var progressEvery = 250 * time.Millisecond

// progress draws one status line of long bulk work on stderr, redrawn in
// place a few times a second, when stderr is a terminal: how many messages
// are done, at what rate, and what is left where that is known. Anything
// else written to stderr meanwhile should go through it (it is an
// io.Writer), so that the line is cleared first and drawn again under it.
// A nil *progress does nothing, which is what newProgress returns when
// stderr is not a terminal: callers need not check. Add, SetTotal and
// SetBytes are safe for concurrent use.
type progress struct {
	w     io.Writer
	verb  string // "sent", "received", "handled"
	start time.Time

	done  atomic.Int64
	total atomic.Int64 // messages expected in all; 0: unknown
	read  func() int64 // bytes of input read, with size
	size  int64

	mu      sync.Mutex
	drawn   bool // the status line is on the screen
	midLine bool // the last write left a line unfinished
	stop    chan struct{}
	ended   chan struct{}
}

// newProgress returns a progress line on w, counting messages that are
// verb, or nil when w is not a terminal.
func newProgress(w io.Writer, verb string) *progress {
	if !isTerminal(w) {
		return nil
	}
	return startProgress(w, verb)
}

// startProgress draws a progress line on w whatever w is.
func startProgress(w io.Writer, verb string) *progress {
	p := &progress{w: w, verb: verb, start: time.Now(), stop: make(chan struct{}), ended: make(chan struct{})}
	go p.loop()
	return p
}

// Add counts n more messages done.
func (p *progress) Add(n int) {
	if p != nil {
		p.done.Add(int64(n))
	}
}

// SetTotal says how many messages there are to do in all.
func (p *progress) SetTotal(n int64) {
	if p != nil {
		p.total.Store(n)
	}
}

// SetBytes says how much input there is, size bytes, and how to learn how
// much of it was read.
func (p *progress) SetBytes(read func() int64, size int64) {
	if p != nil {
		p.mu.Lock()
		p.read, p.size = read, size
		p.mu.Unlock()
	}
}

// Done stops the redraws and clears the line.
func (p *progress) Done() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.ended
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// Write writes b to the terminal under the status line.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	if len(b) > 0 {
		p.midLine = b[len(b)-1] != '\n'
	}
	return p.w.Write(b)
}

func (p *progress) loop() {
	defer close(p.ended)
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw()
		}
	}
}

// draw redraws the status line, unless someone else's line is unfinished.
func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.midLine {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", p.line(time.Since(p.start)))
	p.drawn = true
}

// clear erases the status line if it is on the screen.
func (p *progress) clear() {
	if p.drawn {
		io.WriteString(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// line is the status after elapsed: "pq: 1200 messages sent, 480/s, 300
// left" or ", 45% of the input read".
func (p *progress) line(elapsed time.Duration) string {
	n := p.done.Load()
	s := fmt.Sprintf("pq: %d %s %s", n, plural(n, "message"), p.verb)
	if secs := elapsed.Seconds(); secs > 0 {
		s += fmt.Sprintf(", %.0f/s", float64(n)/secs)
	}
	switch {
	case p.total.Load() > 0:
		s += fmt.Sprintf(", %d left", max(p.total.Load()-n, 0))
	case p.read != nil && p.size > 0:
		s += fmt.Sprintf(", %d%% of the input read", min(100*p.read()/p.size, 100))
	}
	return s
}

// plural returns word for one, and word+"s" otherwise.
func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
