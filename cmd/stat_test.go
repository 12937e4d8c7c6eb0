package cmd_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestStatPrometheusParses checks pq stat --prometheus with Prometheus's
// own parser: every family a gauge with HELP, every sample labelled with
// its queue, the values those of the queue.
func TestStatPrometheusParses(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "jobs")
	s.run(t, nil, []int{0}, "init", "mail.out")
	s.run(t, []byte("a\nbb\nccc\n"), []int{0}, "send", "--lines", "jobs")
	s.run(t, []byte("later"), []int{0}, "send", "--delay", "1h", "jobs")
	out := s.run(t, nil, []int{0}, "stat", "--prometheus")

	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "pq_") || f.GetType() != dto.MetricType_GAUGE || f.GetHelp() == "" {
			t.Errorf("family %s: type %v, help %q; want a pq_ gauge with help", name, f.GetType(), f.GetHelp())
		}
	}
	got := map[string]float64{}
	for _, m := range fams["pq_messages"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		got[l["queue"]+"/"+l["state"]] = m.GetGauge().GetValue()
	}
	want := map[string]float64{"jobs/ready": 3, "jobs/delayed": 1, "jobs/inflight": 0, "jobs/dead": 0,
		"mail.out/ready": 0, "mail.out/delayed": 0, "mail.out/inflight": 0, "mail.out/dead": 0}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("pq_messages %s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	bytesOf := map[string]float64{}
	for _, m := range fams["pq_bytes"].GetMetric() {
		bytesOf[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	if bytesOf["jobs"] != 11 || bytesOf["mail.out"] != 0 {
		t.Errorf("pq_bytes = %v, want jobs 11 (a, bb, ccc and later) and mail.out 0", bytesOf)
	}
	ages := fams["pq_oldest_ready_age_seconds"].GetMetric()
	if len(ages) != 2 {
		t.Fatalf("pq_oldest_ready_age_seconds has %d samples, want 2", len(ages))
	}
	if ts := fams["pq_oldest_ready_timestamp_seconds"].GetMetric(); len(ts) != 1 || time.Since(time.Unix(int64(ts[0].GetGauge().GetValue()), 0)) > time.Hour {
		t.Errorf("pq_oldest_ready_timestamp_seconds = %v, want one sample, a moment ago", ts)
	}
}

// TestStatJSONFields checks the documented field names and types of pq
// stat --json.
func TestStatJSONFields(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "jobs")
	s.run(t, []byte("body"), []int{0}, "send", "jobs")
	out := s.run(t, nil, []int{0}, "stat", "--json", "jobs")
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil || len(rows) != 1 {
		t.Fatalf("stat --json = %s: %v", out, err)
	}
	r := rows[0]
	for _, k := range []string{"ready", "delayed", "inflight", "dead", "bytes", "oldest_ready_age_seconds"} {
		if _, ok := r[k].(float64); !ok {
			t.Errorf("%s = %#v, want a number", k, r[k])
		}
	}
	if p, ok := r["paused"].(bool); !ok || p {
		t.Errorf("paused = %#v, want false", r["paused"])
	}
	if r["queue"] != "jobs" || r["ready"] != 1.0 || r["bytes"] != 4.0 {
		t.Errorf("row = %v, want queue jobs, 1 ready, 4 bytes", r)
	}
	ts, _ := r["oldest_ready"].(string)
	if at, err := time.Parse(time.RFC3339, ts); err != nil || time.Since(at) > time.Hour {
		t.Errorf("oldest_ready = %q (%v), want an RFC 3339 time a moment ago", ts, err)
	}
}

// TestStatWatchPrintsATablePerInterval runs pq stat --watch with stdout a
// pipe: it prints one table per interval, with rates from the second on,
// and ends cleanly on SIGINT.
func TestStatWatchPrintsATablePerInterval(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "jobs")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := s.command("stat", "--watch", "--interval", "100ms", "jobs")
	cmd.Stdout = w
	p := start(t, "pq stat --watch", cmd, w)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("pq stat --watch ended early: %s", p.stderr.String())
			}
			return l
		case <-time.After(stepLimit):
			t.Fatal("no line from pq stat --watch")
		}
		return ""
	}
	var rows []string
	for len(rows) < 2 {
		if l := next(); strings.HasPrefix(l, "jobs ") {
			rows = append(rows, l)
			if len(rows) == 1 {
				s.run(t, []byte("x\ny\n"), []int{0}, "send", "--lines", "jobs")
			}
		}
	}
	if f := strings.Fields(rows[0]); f[len(f)-3] != "-" || f[len(f)-2] != "-" {
		t.Errorf("first row %q: want no rates yet", rows[0])
	}
	for !strings.Contains(rows[len(rows)-1], " 2 ") {
		rows = append(rows, next()) // the sends may fall after the second refresh
	}
	last := strings.Fields(rows[len(rows)-1])
	if last[1] != "2" || last[len(last)-3] == "0.0" || last[len(last)-3] == "-" {
		t.Errorf("row %q: want 2 ready and a sending rate above zero", rows[len(rows)-1])
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.waitWithin(t, stepLimit); code != 0 {
		t.Errorf("pq stat --watch exited %d on SIGINT, want 0: %s", code, p.stderr.String())
	}
}
