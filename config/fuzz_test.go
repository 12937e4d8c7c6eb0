package config

import (
	"strings"
	"testing"
)

// FuzzParse checks that no configuration file makes the loader panic,
// that every error is one line naming the file, and that what loads
// gives workers settings that pass their own checks.
func FuzzParse(f *testing.F) {
	f.Add("root = \"/var/spool/pq\"\n[defaults]\nmax_attempts = 5\nbackoff_min = \"1s\"\nrate = \"10/s\"\n")
	f.Add("[queue.jobs]\nttl = \"1h\"\non_expiry = \"drop\"\nallow_senders = [\"alice\", \"group:web\"]\n")
	f.Add("[defaults]\ngrace = 30\n")
	f.Add("[queue]\njobs = 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse("c.toml", text)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "config c.toml") {
				t.Fatalf("Parse(%q): error %q: want one line naming the file", text, msg)
			}
			return
		}
		for _, q := range []string{"jobs", "other"} {
			if err := c.Worker(q).Validate(); err != nil {
				t.Fatalf("Parse(%q) loaded, but the worker settings of %s are invalid: %v", text, q, err)
			}
		}
	})
}
