package cmd

import (
	"bytes"
	"testing"
	"time"
)

func TestHumanUnits(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {20 << 20, "20 MiB"}, {3 << 40, "3.0 TiB"}} {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{0, "0s"}, {45 * time.Second, "45s"}, {192 * time.Second, "3m12s"}, {125 * time.Minute, "2h05m"}, {76 * time.Hour, "3d04h"}} {
		if got := humanAge(tt.d); got != tt.want {
			t.Errorf("humanAge(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestSparklineScalesToTheMaximum(t *testing.T) {
	if got, want := sparkline([]int{0, 1, 2, 4, 8}), "▁▁▂▄█"; got != want {
		t.Errorf("sparkline = %q, want %q", got, want)
	}
	if got, want := sparkline([]int{0, 0}), "▁▁"; got != want {
		t.Errorf("sparkline of zeros = %q, want %q", got, want)
	}
}

func TestSentAckedEstimates(t *testing.T) {
	// 10 messages, 4 sent since, 7 left over 2 seconds: 7 went.
	sent, acked := sentAcked(10, 7, 4, 2)
	if sent != "2.0" || acked != "3.5" {
		t.Errorf("sentAcked = %s, %s; want 2.0, 3.5", sent, acked)
	}
	if _, acked := sentAcked(5, 9, 0, 1); acked != "0.0" {
		t.Errorf("acked = %s when the queue grew without sends seen, want 0.0", acked)
	}
}

func TestWriteTableAlignsNumbersRight(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, [][]string{{"QUEUE", "READY"}, {"a", "12345"}, {"long-name", "1"}})
	want := "QUEUE      READY\na          12345\nlong-name      1\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
