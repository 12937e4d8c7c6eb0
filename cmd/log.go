package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// lineHandler prints log records as pq's lines on stderr, one each, in
// one of two forms:
//
//   - the worker's, every record, its message alone: `pq: QUEUE: MESSAGE`;
//   - package spool's warnings, lower levels dropped (what pq does
//     routinely is no news), with their attributes:
//     `pq: warning: queue jobs: moved a stray aside: path=new/x kind="named pipe"`.
type lineHandler struct {
	mu       *sync.Mutex
	w        io.Writer
	warnings bool // the second form
	queue    string
	attrs    []slog.Attr
}

// newWorkerHandler returns a handler of the worker's form.
func newWorkerHandler(w io.Writer) *lineHandler { return &lineHandler{mu: &sync.Mutex{}, w: w} }

// newWarnHandler returns a handler of the warnings' form.
func newWarnHandler(w io.Writer) *lineHandler {
	return &lineHandler{mu: &sync.Mutex{}, w: w, warnings: true}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool {
	return !h.warnings || l >= slog.LevelWarn
}

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("pq: ")
	if !h.warnings {
		if h.queue != "" {
			b.WriteString(h.queue + ": ")
		}
		b.WriteString(oneLine(r.Message))
	} else {
		b.WriteString("warning: ")
		if h.queue != "" {
			fmt.Fprintf(&b, "queue %s: ", h.queue)
		}
		b.WriteString(r.Message)
		var rest []string
		add := func(a slog.Attr) bool {
			rest = append(rest, fmt.Sprintf("%s=%s", a.Key, quoteIfNeeded(a.Value.String())))
			return true
		}
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		if len(rest) > 0 {
			b.WriteString(": " + strings.Join(rest, " "))
		}
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// WithAttrs keeps the queue's name apart; the other attributes are
// printed in the warnings' form only.
func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr{}, h.attrs...)
	for _, a := range as {
		if a.Key == "queue" {
			c.queue = a.Value.String()
			continue
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }

// quoteIfNeeded quotes s when it holds spaces or characters that would make
// the line ambiguous.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
