package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"pq/config"
)

// resolveRoot picks the spool root: the --root flag, else $PQ_ROOT, else the
// configuration's root, else $XDG_DATA_HOME/pq (~/.local/share/pq).
func resolveRoot(flag string, c config.Config) (string, error) {
	for _, r := range []string{flag, os.Getenv("PQ_ROOT"), c.Root} {
		if r != "" {
			return r, nil
		}
	}
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", withHint(fmt.Errorf("no spool root: %w", err), "set --root or PQ_ROOT")
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "pq"), nil
}
