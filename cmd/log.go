package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// warnHandler prints the warnings that package spool logs, one line each
// on stderr: `pq: warning: queue jobs: moved a stray aside: path=new/x kind="named pipe"`.
// Lower levels are dropped: what pq does routinely is no news.
type warnHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	attrs []slog.Attr
}

func newWarnHandler(w io.Writer) *warnHandler { return &warnHandler{mu: &sync.Mutex{}, w: w} }

func (h *warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *warnHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("pq: warning: ")
	var rest []string
	add := func(a slog.Attr) bool {
		if a.Key == "queue" {
			fmt.Fprintf(&b, "queue %s: ", a.Value)
			return true
		}
		rest = append(rest, fmt.Sprintf("%s=%s", a.Key, quoteIfNeeded(a.Value.String())))
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteString(r.Message)
	if len(rest) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(rest, " "))
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *warnHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnHandler{mu: h.mu, w: h.w, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *warnHandler) WithGroup(string) slog.Handler { return h }

// quoteIfNeeded quotes s when it holds spaces or characters that would make
// the line ambiguous.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
