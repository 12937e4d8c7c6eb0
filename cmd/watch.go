package cmd

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"
)

// sparkWidth is how many refreshes the sparkline of pq stat --watch
// shows.
const sparkWidth = 30

// sparks are the bars of a sparkline, lowest first.
var sparks = []rune("▁▂▃▄▅▆▇█")

// watcher keeps what pq stat --watch remembers between refreshes.
type watcher struct {
	prev   map[string]queueStat
	prevAt time.Time
	depth  map[string][]int // ready messages at each refresh, oldest first
}

// runWatch prints the table of pq stat every interval until ctx ends:
// on a terminal in place, otherwise one table after another, each after
// an empty line and a line with the time.
func runWatch(ctx context.Context, e *env, o statOptions) error {
	w := &watcher{prev: map[string]queueStat{}, depth: map[string][]int{}}
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	for first := true; ; first = false {
		at := time.Now()
		stats, err := gather(e, o.queues, w.prevAt)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if o.human {
			buf.WriteString("\x1b[H\x1b[2J") // home, clear the screen
		} else if !first {
			buf.WriteString("\n")
		}
		fmt.Fprintf(&buf, "%s  every %v\n", at.UTC().Format(time.RFC3339), o.interval)
		writeTable(&buf, w.table(stats, at, o.human))
		if _, err := e.Out.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write to stdout: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// table lays out one refresh: the columns of pq stat, the rates since
// the last refresh and the sparkline of ready messages. It remembers
// this refresh for the next.
func (w *watcher) table(stats []queueStat, at time.Time, human bool) [][]string {
	rows := statTable(stats, at, human)
	rows[0] = append(rows[0], "SENT/S", "ACKED/S", "READY (last "+strconv.Itoa(sparkWidth)+")")
	dt := at.Sub(w.prevAt).Seconds()
	next := make(map[string]queueStat, len(stats))
	for i, s := range stats {
		sent, acked := "-", "-"
		if p, ok := w.prev[s.name]; ok && dt > 0 {
			sent, acked = sentAcked(p.Summary.Total(), s.Total(), s.SentAfter, dt)
		}
		d := append(w.depth[s.name], s.Ready)
		if len(d) > sparkWidth {
			d = d[len(d)-sparkWidth:]
		}
		w.depth[s.name] = d
		rows[i+1] = append(rows[i+1], sent, acked, sparkline(d))
		next[s.name] = s
	}
	w.prev, w.prevAt = next, at
	return rows
}

// sentAcked estimates the rates of sends and acks between two refreshes
// dt seconds apart, the queue holding prev messages at the first and cur
// at the second, of which sentAfter were sent after the first began: the
// messages sent are those, and the messages acked (or dropped) the ones
// that the sends do not account for. Messages both sent and acked
// between two refreshes escape both counts.
func sentAcked(prev, cur, sentAfter int, dt float64) (string, string) {
	acked := max(prev+sentAfter-cur, 0)
	return rate(float64(sentAfter) / dt), rate(float64(acked) / dt)
}

// rate formats a rate per second.
func rate(r float64) string {
	if r >= 100 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// sparkline draws the values as bars, scaled from zero to their maximum.
func sparkline(vals []int) string {
	top := 0
	for _, v := range vals {
		top = max(top, v)
	}
	out := make([]rune, len(vals))
	for i, v := range vals {
		b := 0
		if top > 0 {
			b = v * (len(sparks) - 1) / top
		}
		out[i] = sparks[b]
	}
	return string(out)
}
