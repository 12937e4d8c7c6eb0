package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is the contents of pq's configuration file.
type Config struct {
	// Root is the spool directory that holds the queues.
	Root string `toml:"root"`
}

// configPath returns the configuration file to read, and whether it must
// exist: the --config flag, else $PQ_CONFIG, else the default under
// $XDG_CONFIG_HOME, which may be absent.
func configPath(flag string) (string, bool) {
	if flag != "" {
		return flag, true
	}
	if p := os.Getenv("PQ_CONFIG"); p != "" {
		return p, true
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "pq", "config.toml"), false
}

// loadConfig reads the configuration file at path. A missing file is an
// error only when required.
func loadConfig(path string, required bool) (Config, error) {
	var c Config
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			msg := strings.TrimPrefix(perr.Message, "toml: ")
			return c, fmt.Errorf("config %s, line %d: %s", path, perr.Position.Line, msg)
		}
		return c, fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "toml: "))
	}
	if und := md.Undecoded(); len(und) > 0 {
		return c, fmt.Errorf("config %s: unknown key %q", path, und[0].String())
	}
	return c, nil
}

// resolveRoot picks the spool root: the --root flag, else $PQ_ROOT, else the
// configuration's root, else $XDG_DATA_HOME/pq (~/.local/share/pq).
func resolveRoot(flag string, c Config) (string, error) {
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
