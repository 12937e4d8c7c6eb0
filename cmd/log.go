package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// lineHandler prints log records as pq's lines on stderr, one each, after
// the record's time when stamp is set, in one of two forms:
//
//   - the worker's, every record from level on, its message alone after
//     the message's id when it has one: `pq: QUEUE: ID: MESSAGE`;
//   - package spool's warnings, lower levels dropped (what pq does
//     routinely is no news), with their attributes:
//     `pq: warning: queue jobs: moved a stray aside: path=new/x kind="named pipe"`.
type lineHandler struct {
	mu       *sync.Mutex
	w        io.Writer
	warnings bool         // the second form
	stamp    bool         // begin each line with the record's time
	level    slog.Leveler // the least level printed; nil for the warnings' form: Warn
	queue    string
	attrs    []slog.Attr
}

// newWarnHandler returns a handler of the warnings' form.
func newWarnHandler(w io.Writer) *lineHandler {
	return &lineHandler{mu: &sync.Mutex{}, w: w, warnings: true}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool {
	if h.warnings {
		return l >= slog.LevelWarn && (h.level == nil || l >= h.level.Level())
	}
	return l >= h.level.Level()
}

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if h.stamp && !r.Time.IsZero() {
		b.WriteString(r.Time.Format(stampFormat) + " ")
	}
	b.WriteString("pq: ")
	if !h.warnings {
		if h.queue != "" {
			b.WriteString(h.queue + ": ")
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "id" {
				b.WriteString(a.Value.String() + ": ")
				return false
			}
			return true
		})
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

// stampFormat is the time at the start of a log line: RFC 3339 with
// milliseconds, in local time.
const stampFormat = "2006-01-02T15:04:05.000Z07:00"

// quoteIfNeeded quotes s when it holds spaces or characters that would make
// the line ambiguous.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// logSettings say how a worker logs: --log-format (or log_format), -q and -v.
type logSettings struct {
	format string     // "text" or "json"
	level  slog.Level // the least level logged
}

// loggers returns the worker's logger, and the one for the queue's
// warnings, both writing whole lines to w. The text form begins each line
// with the time, except under systemd (JOURNAL_STREAM set), whose journal
// adds its own.
func (s logSettings) loggers(w io.Writer) (work, warn *slog.Logger) {
	if s.format == "json" {
		work = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: s.level}))
		warn = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: max(s.level, slog.LevelWarn)}))
		return work, warn
	}
	stamp := os.Getenv("JOURNAL_STREAM") == ""
	mu := &sync.Mutex{}
	work = slog.New(&lineHandler{mu: mu, w: w, stamp: stamp, level: s.level})
	warn = slog.New(&lineHandler{mu: mu, w: w, stamp: stamp, level: s.level, warnings: true})
	return work, warn
}
