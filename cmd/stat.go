package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"pq/queue"
	"pq/spool"
)

// statOptions are the flags of pq stat.
type statOptions struct {
	queues     []string
	json       bool
	prometheus bool
	output     string // -o: write here, atomically, instead of stdout
	watch      bool
	interval   time.Duration
	human      bool // human units: stdout is a terminal
}

func statCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "stat",
		Usage:     "show how many messages queues hold, by state",
		UsageText: "pq stat [--json|--prometheus] [-o FILE] [--watch [--interval DUR]] [QUEUE...]",
		Description: "Prints one row per queue (every queue of the spool when none is named): its\n" +
			"ready, delayed, in-flight and dead messages, the age of its oldest ready\n" +
			"message, the bytes of its bodies and whether it is paused (pq pause). On a\n" +
			"terminal sizes and ages are in human units; otherwise bytes are bytes and\n" +
			"ages whole seconds. --json prints\n" +
			"a JSON array, --prometheus the Prometheus text format; -o FILE writes to FILE\n" +
			"through a temporary file renamed over it. It reads no body, takes no lock and\n" +
			"changes nothing.\n\n" +
			"Example: pq stat --prometheus -o /var/lib/node_exporter/textfile/pq.prom",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array, one object per queue"},
			&cli.BoolFlag{Name: "prometheus", Usage: "print the Prometheus text exposition format"},
			&cli.StringFlag{Name: "o", Usage: "write to `FILE` atomically (temporary file, then rename) instead of stdout"},
			&cli.BoolFlag{Name: "watch", Usage: "refresh every interval, with rates and a sparkline of depth"},
			&cli.DurationFlag{Name: "interval", Value: 2 * time.Second, Usage: "with --watch, refresh every `DUR`"},
		},
		Action: func(c *cli.Context) error {
			o := statOptions{queues: c.Args().Slice(), json: c.Bool("json"), prometheus: c.Bool("prometheus"),
				output: c.String("o"), watch: c.Bool("watch"), interval: c.Duration("interval"), human: isTerminal(e.Out)}
			if err := o.check(); err != nil {
				return err
			}
			if o.watch {
				ctx, stop := withSignals(c.Context)
				defer stop()
				return runWatch(ctx, e, o)
			}
			return runStat(e, o)
		},
	}
}

// check refuses flags that do not go together.
func (o statOptions) check() error {
	switch {
	case o.json && o.prometheus:
		return usagef("stat: --json and --prometheus exclude each other")
	case o.watch && (o.json || o.prometheus || o.output != ""):
		return usagef("stat: --watch prints tables; it takes no --json, --prometheus or -o")
	case o.interval <= 0:
		return usagef("stat: --interval must be above zero")
	}
	return nil
}

// queueStat is one queue's row.
type queueStat struct {
	name string
	spool.Summary
}

// gather summarizes the queues named, or every queue of the spool.
func gather(e *env, names []string, since time.Time) ([]queueStat, error) {
	ctx := context.Background()
	if len(names) == 0 {
		var err error
		if names, err = e.queueNames(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]queueStat, 0, len(names))
	for _, n := range names {
		sz, err := openAs[queue.Summarizer](ctx, e, n, "stat")
		if err != nil {
			return nil, err
		}
		s, err := sz.Summarize(ctx, since)
		if err != nil {
			return nil, err
		}
		e.warnReplicas(n, s.Replicas)
		out = append(out, queueStat{name: n, Summary: s})
	}
	return out, nil
}

// warnReplicas warns, once a run, of a queue kept by a single server of a
// cluster's, whose lost disk or power cut loses its messages.
func (e *env) warnReplicas(name string, replicas int) {
	if replicas != 1 || e.warnedReplicas[name] {
		return
	}
	fmt.Fprintf(e.Err, "pq: warning: queue %s has one replica: a server's lost disk, or a power cut within its sync interval, loses its messages\n", name)
	fmt.Fprintf(e.Err, "pq: hint: pq init --replicas 3 %s, on a cluster of three servers\n", name)
	if e.warnedReplicas == nil {
		e.warnedReplicas = map[string]bool{}
	}
	e.warnedReplicas[name] = true
}

func runStat(e *env, o statOptions) error {
	stats, err := gather(e, o.queues, time.Time{})
	if err != nil {
		return err
	}
	at := time.Now()
	var buf bytes.Buffer
	switch {
	case o.json:
		err = writeStatJSON(&buf, stats, at)
	case o.prometheus:
		writePrometheus(&buf, stats, at)
	default:
		writeTable(&buf, statTable(stats, at, o.human && o.output == ""))
	}
	if err != nil {
		return err
	}
	if o.output != "" {
		return writeAtomic(o.output, buf.Bytes())
	}
	if _, err := e.Out.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write to stdout: %w", err)
	}
	return nil
}

// statTable lays out the rows of pq stat, a header first.
func statTable(stats []queueStat, at time.Time, human bool) [][]string {
	rows := [][]string{{"QUEUE", "READY", "DELAYED", "INFLIGHT", "DEAD", "OLDEST", "BYTES", "PAUSED"}}
	for _, s := range stats {
		oldest, size := "-", strconv.FormatInt(s.Bytes, 10)
		if !s.OldestReady.IsZero() {
			oldest = strconv.FormatInt(int64(ageOf(s.OldestReady, at)/time.Second), 10)
		}
		if human {
			size = humanBytes(s.Bytes)
			if !s.OldestReady.IsZero() {
				oldest = humanAge(ageOf(s.OldestReady, at))
			}
		}
		paused := "no"
		if s.Paused {
			paused = "yes"
		}
		rows = append(rows, []string{s.name, strconv.Itoa(s.Ready), strconv.Itoa(s.Delayed),
			strconv.Itoa(s.Inflight), strconv.Itoa(s.Dead), oldest, size, paused})
	}
	return rows
}

// ageOf is the time from t to at, never below zero (a sender's clock may
// run ahead of ours).
func ageOf(t, at time.Time) time.Duration {
	return max(at.Sub(t), 0)
}

// writeTable writes rows aligned in columns two spaces apart: the first
// column to the left, the others, numbers, to the right.
func writeTable(w *bytes.Buffer, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0 && i == len(r)-1:
				line.WriteString(c)
			case i == 0:
				line.WriteString(c + pad)
			default:
				line.WriteString("  " + pad + c)
			}
		}
		w.WriteString(line.String() + "\n")
	}
}

// humanBytes formats n bytes in binary units: 512 B, 1.5 KiB, 20 MiB.
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, unit := float64(n), 0
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	for f /= 1024; f >= 1024 && unit < len(units)-1; f /= 1024 {
		unit++
	}
	if f < 10 {
		return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[unit]
	}
	return strconv.FormatFloat(f, 'f', 0, 64) + " " + units[unit]
}

// humanAge formats an age with its two largest units: 45s, 3m12s, 2h5m,
// 3d4h.
func humanAge(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

// statJSON is one queue in the output of pq stat --json. The field names
// are documented in the README and stay.
type statJSON struct {
	Queue                 string     `json:"queue"`
	Ready                 int        `json:"ready"`
	Delayed               int        `json:"delayed"`
	Inflight              int        `json:"inflight"`
	Dead                  int        `json:"dead"`
	Bytes                 int64      `json:"bytes"`
	OldestReady           *time.Time `json:"oldest_ready"`
	OldestReadyAgeSeconds float64    `json:"oldest_ready_age_seconds"`
	Paused                bool       `json:"paused"`
}

func writeStatJSON(w io.Writer, stats []queueStat, at time.Time) error {
	out := make([]statJSON, 0, len(stats))
	for _, s := range stats {
		j := statJSON{Queue: s.name, Ready: s.Ready, Delayed: s.Delayed, Inflight: s.Inflight, Dead: s.Dead, Bytes: s.Bytes, Paused: s.Paused}
		if !s.OldestReady.IsZero() {
			t := s.OldestReady.UTC()
			j.OldestReady = &t
			j.OldestReadyAgeSeconds = ageOf(t, at).Round(time.Millisecond).Seconds()
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writePrometheus writes the stats in the Prometheus text exposition
// format. Every metric is a gauge: pq keeps no running totals.
func writePrometheus(w io.Writer, stats []queueStat, at time.Time) {
	gauge := func(name, help string, each func(s queueStat)) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, s := range stats {
			each(s)
		}
	}
	gauge("pq_messages", "Messages in the queue, by state (ready, delayed, inflight, dead).", func(s queueStat) {
		for _, st := range []struct {
			state string
			n     int
		}{{"ready", s.Ready}, {"delayed", s.Delayed}, {"inflight", s.Inflight}, {"dead", s.Dead}} {
			fmt.Fprintf(w, "pq_messages{queue=%s,state=%q} %d\n", promLabel(s.name), st.state, st.n)
		}
	})
	gauge("pq_bytes", "Bytes of the bodies of the queue's messages, in every state.", func(s queueStat) {
		fmt.Fprintf(w, "pq_bytes{queue=%s} %d\n", promLabel(s.name), s.Bytes)
	})
	gauge("pq_oldest_ready_age_seconds", "Age of the queue's oldest ready message, from its send time; 0 when none is ready.", func(s queueStat) {
		age := 0.0
		if !s.OldestReady.IsZero() {
			age = ageOf(s.OldestReady, at).Round(time.Millisecond).Seconds()
		}
		fmt.Fprintf(w, "pq_oldest_ready_age_seconds{queue=%s} %s\n", promLabel(s.name), strconv.FormatFloat(age, 'f', -1, 64))
	})
	gauge("pq_paused", "1 when the queue is paused (pq pause): nothing is claimed from it; 0 otherwise.", func(s queueStat) {
		p := 0
		if s.Paused {
			p = 1
		}
		fmt.Fprintf(w, "pq_paused{queue=%s} %d\n", promLabel(s.name), p)
	})
	gauge("pq_oldest_ready_timestamp_seconds", "Send time of the queue's oldest ready message, in seconds since the epoch; absent when none is ready.", func(s queueStat) {
		if s.OldestReady.IsZero() {
			return
		}
		t := float64(s.OldestReady.UnixNano()) / 1e9
		fmt.Fprintf(w, "pq_oldest_ready_timestamp_seconds{queue=%s} %s\n", promLabel(s.name), strconv.FormatFloat(t, 'f', -1, 64))
	})
}

// promLabel quotes a label value as the exposition format wants.
func promLabel(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

// writeAtomic replaces the file at path with data: written to a
// temporary file beside it, synced, renamed over it, and the directory
// synced, so that a reader sees the old file or the new one, whole.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		done = true
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
