package cmd

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"pq/config"
)

// TestEveryCommandHasAnExample walks every command: its --help shows at
// least one example, a line that runs pq.
func TestEveryCommandHasAnExample(t *testing.T) {
	for _, c := range commands(&env{}) {
		ex := examples(c.Description)
		if len(ex) == 0 {
			t.Errorf("pq %s: no example: end its Description with \"Example:\\n  pq %s ...\"", c.Name, c.Name)
		}
		for _, l := range ex {
			if !strings.Contains(l, "pq ") {
				t.Errorf("pq %s: example %q does not run pq", c.Name, l)
			}
		}
	}
}

// TestHelpShowsRealDefaults walks every flag of every command. A flag that
// takes a value names it (no urfave/cli "value" placeholder), and never
// shows a bare zero default: a zero means "none" or "the configuration's",
// and the help says which (DefaultText). A flag named after a worker key
// of the configuration shows the built-in default, and that the
// configuration may change it.
func TestHelpShowsRealDefaults(t *testing.T) {
	builtin := workerDefaults()
	flags := map[string][]cli.Flag{"pq": namedFlags(globalFlags())}
	for _, c := range commands(&env{}) {
		flags["pq "+c.Name] = c.Flags
	}
	for cmd, fs := range flags {
		for _, f := range fs {
			name := cmd + " " + flagName(f.Names()[0])
			if !takesValue(f) {
				continue
			}
			if placeholder(f) == "" {
				t.Errorf("%s: no placeholder: put its value's name in back quotes in Usage", name)
			}
			d := defaultText(f)
			switch d {
			case "0", "0s", "0.0", "0m0s":
				t.Errorf("%s: help shows the default %q: set DefaultText to what a zero means", name, d)
			}
			key := strings.ReplaceAll(f.Names()[0], "-", "_")
			if want, ok := builtin[key]; ok {
				if !strings.HasPrefix(d, want+",") || !strings.Contains(d, "config's "+key) {
					t.Errorf("%s: help shows the default %q, want %q and the config's %s", name, d, want, key)
				}
			}
		}
	}
}

// workerDefaults returns config.DefaultWorker's values by their keys in
// the configuration file, as --help should show them: a zero is "none" or
// "no limit".
func workerDefaults() map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(config.DefaultWorker())
	for i := 0; i < v.NumField(); i++ {
		key := snake(v.Type().Field(i).Name)
		switch x := v.Field(i).Interface().(type) {
		case time.Duration:
			out[key] = x.String()
			if x == 0 {
				out[key] = "none"
			}
		case float64:
			out[key] = fmt.Sprint(x)
			if x == 0 {
				out[key] = "no limit"
			}
		default:
			out[key] = fmt.Sprint(x)
		}
	}
	return out
}

// snake turns a Go field name into a configuration key: MaxAttempts is
// max_attempts.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// TestRecvHelpDefaults checks the help as a person sees it.
func TestRecvHelpDefaults(t *testing.T) {
	var out bytes.Buffer
	if code := Main([]string{"pq", "recv", "--help"}, Stdio{Out: &out, Err: &out}); code != ExitOK {
		t.Fatalf("pq recv --help: exit %d: %s", code, out.String())
	}
	for _, want := range []string{"(default: 30s, or the config's grace)", "(default: 5, or the config's max_attempts)", "Examples:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("pq recv --help lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "(default: false)") {
		t.Errorf("pq recv --help gives switches a default:\n%s", out.String())
	}
}
