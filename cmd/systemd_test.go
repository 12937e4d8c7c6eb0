package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// systemdDir holds the example units.
var systemdDir = filepath.Join("..", "docs", "systemd")

// TestSystemdUnitsKeepTheirPromises reads the example units: a worker per
// queue (the instance) that waits, restarts on failure only, stops on
// SIGTERM with a TimeoutStopSec longer than its --grace; and a path unit
// that starts it when the queue's new/ gets a message.
func TestSystemdUnitsKeepTheirPromises(t *testing.T) {
	service := readUnit(t, "pq-worker@.service")
	start := unitValue(t, service, "ExecStart")
	for _, want := range []string{"pq recv --exec ", "--wait", "%i"} {
		if !strings.Contains(start, want) {
			t.Errorf("ExecStart=%s lacks %q", start, want)
		}
	}
	for key, want := range map[string]string{"Restart": "on-failure", "KillSignal": "SIGTERM", "KillMode": "mixed"} {
		if got := unitValue(t, service, key); got != want {
			t.Errorf("%s=%s, want %s", key, got, want)
		}
	}
	grace, stop := 30*time.Second, parseUnitDuration(t, unitValue(t, service, "TimeoutStopSec"))
	if m := regexp.MustCompile(`--grace (\S+)`).FindStringSubmatch(start); m != nil {
		grace = parseUnitDuration(t, m[1])
	}
	if stop <= grace {
		t.Errorf("TimeoutStopSec %v is not longer than the grace %v", stop, grace)
	}
	path := readUnit(t, "pq-worker@.path")
	if !regexp.MustCompile(`(?m)^(PathChanged|DirectoryNotEmpty)=\S*/%i/new$`).MatchString(path) {
		t.Errorf("pq-worker@.path watches no queue's new/:\n%s", path)
	}
}

// TestSystemdUnitsVerify runs systemd-analyze verify on an instance of
// each unit, with ExecStart pointing at the pq that the tests built (verify
// checks that it exists); it must pass and say nothing.
func TestSystemdUnitsVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the units are not verified")
	}
	bin := buildPQ(t)
	dir := t.TempDir()
	for _, name := range []string{"pq-worker@.service", "pq-worker@.path"} {
		text := strings.ReplaceAll(readUnit(t, name), "/usr/local/bin/pq ", bin+" ")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tool, "verify", "--man=no",
		filepath.Join(dir, "pq-worker@jobs.service"), filepath.Join(dir, "pq-worker@jobs.path"))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func readUnit(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(systemdDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unitValue returns the value of the one line KEY=VALUE of unit.
func unitValue(t *testing.T, unit, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^`+key+`=(.*)$`).FindAllStringSubmatch(unit, -1)
	if len(m) != 1 {
		t.Fatalf("%d lines %s= in the unit, want one", len(m), key)
	}
	return m[0][1]
}

// parseUnitDuration reads a duration as the units write it ("45s", "2min").
func parseUnitDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(strings.Replace(s, "min", "m", 1))
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}
