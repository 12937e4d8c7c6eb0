package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pq/spool"
)

func TestExampleConfigParses(t *testing.T) {
	c, err := Load(filepath.Join("..", "config.example.toml"), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Root == "" {
		t.Fatal("config.example.toml sets no root")
	}
}

func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", "root = \"/x\"\nrooot = \"/y\"\n", `unknown key "rooot"`},
		{"malformed", "root = \"/x\"\nroot = = 3\n", "line 2"},
		{"wrong type", "root = 3\n", "root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			os.WriteFile(path, []byte(tt.text), 0o600)
			_, err := Load(path, true)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s and %q", err, path, tt.want)
			}
		})
	}
}

func TestMissingConfigIsAnErrorOnlyWhenNamed(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	if _, err := Load(missing, true); err == nil {
		t.Fatal("a named config that does not exist was accepted")
	}
	if _, err := Load(missing, false); err != nil {
		t.Fatalf("the default config may be absent: %v", err)
	}
}

// writeConfig writes text to a configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultWorker(t *testing.T) {
	want := Worker{MaxAttempts: 5, BackoffMin: time.Second, BackoffMax: 5 * time.Minute, JobTimeout: 0, Grace: 30 * time.Second, Rate: 0}
	if got := DefaultWorker(); got != want {
		t.Errorf("DefaultWorker() = %+v, want %+v", got, want)
	}
	if got := (Config{}).Worker("jobs"); got != want {
		t.Errorf("Config{}.Worker = %+v, want the defaults %+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestWorkerPrecedence(t *testing.T) {
	// with returns the defaults changed by f.
	with := func(f func(*Worker)) Worker {
		w := DefaultWorker()
		f(&w)
		return w
	}
	tests := []struct {
		name, text string
		want       map[string]Worker // by queue
	}{
		{
			name: "no tables: built-in defaults",
			text: "root = \"/x\"\n",
			want: map[string]Worker{"jobs": DefaultWorker()},
		},
		{
			name: "empty tables change nothing",
			text: "[defaults]\n[queue.jobs]\n",
			want: map[string]Worker{"jobs": DefaultWorker(), "other": DefaultWorker()},
		},
		{
			name: "defaults override built-ins, key by key",
			text: "[defaults]\nmax_attempts = 3\ngrace = \"1m\"\n",
			want: map[string]Worker{"jobs": with(func(w *Worker) { w.MaxAttempts, w.Grace = 3, time.Minute })},
		},
		{
			name: "queue overrides defaults, key by key",
			text: "[defaults]\nmax_attempts = 3\nrate = \"10/s\"\njob_timeout = \"5s\"\n" +
				"[queue.jobs]\nmax_attempts = 7\nbackoff_max = \"1h\"\n",
			want: map[string]Worker{
				"jobs": with(func(w *Worker) {
					w.MaxAttempts, w.Rate, w.JobTimeout, w.BackoffMax = 7, 10, 5*time.Second, time.Hour
				}),
				"other": with(func(w *Worker) { w.MaxAttempts, w.Rate, w.JobTimeout = 3, 10, 5*time.Second }),
			},
		},
		{
			name: "a queue table without defaults",
			text: "[queue.jobs]\nbackoff_min = \"2s\"\nbackoff_max = \"2s\"\n",
			want: map[string]Worker{
				"jobs":  with(func(w *Worker) { w.BackoffMin, w.BackoffMax = 2*time.Second, 2*time.Second }),
				"other": DefaultWorker(),
			},
		},
		{
			name: "zero values set explicitly override",
			text: "[defaults]\njob_timeout = \"5s\"\nrate = \"10/s\"\ngrace = \"1m\"\n" +
				"[queue.jobs]\njob_timeout = \"0s\"\nrate = \"0\"\ngrace = \"0\"\n",
			want: map[string]Worker{"jobs": with(func(w *Worker) { w.Grace = 0 })},
		},
		{
			name: "empty rate means no limit",
			text: "[defaults]\nrate = \"1/s\"\n[queue.jobs]\nrate = \"\"\n",
			want: map[string]Worker{"jobs": DefaultWorker(), "other": with(func(w *Worker) { w.Rate = 1 })},
		},
		{
			name: "max_attempts 1 is a single attempt",
			text: "[queue.jobs]\nmax_attempts = 1\n",
			want: map[string]Worker{"jobs": with(func(w *Worker) { w.MaxAttempts = 1 })},
		},
		{
			name: "every key",
			text: "[queue.jobs]\nmax_attempts = 9\nbackoff_min = \"100ms\"\nbackoff_max = \"1m30s\"\n" +
				"job_timeout = \"2h\"\ngrace = \"45s\"\nrate = \"1/h\"\n",
			want: map[string]Worker{"jobs": {
				MaxAttempts: 9, BackoffMin: 100 * time.Millisecond, BackoffMax: 90 * time.Second,
				JobTimeout: 2 * time.Hour, Grace: 45 * time.Second, Rate: 1.0 / 3600,
			}},
		},
		{
			name: "dotted keys and inline tables",
			text: "root = \"/x\"\nqueue.jobs.max_attempts = 2\nqueue.mail = { rate = \"60/m\" }\n" +
				"[queue.\"a.b_c-9\"]\ngrace = \"1s\"\n",
			want: map[string]Worker{
				"jobs":    with(func(w *Worker) { w.MaxAttempts = 2 }),
				"mail":    with(func(w *Worker) { w.Rate = 1 }),
				"a.b_c-9": with(func(w *Worker) { w.Grace = time.Second }),
			},
		},
		{
			name: "queue names are case-sensitive",
			text: "[queue.Jobs]\nmax_attempts = 2\n",
			want: map[string]Worker{"Jobs": with(func(w *Worker) { w.MaxAttempts = 2 }), "jobs": DefaultWorker()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeConfig(t, tt.text), true)
			if err != nil {
				t.Fatal(err)
			}
			for queue, want := range tt.want {
				if got := c.Worker(queue); got != want {
					t.Errorf("Worker(%q) = %+v, want %+v", queue, got, want)
				}
			}
		})
	}
}

// TestFlagsOverrideWorker shows how the worker puts its flags on top of
// the configuration: a field set after Config.Worker wins, and Validate
// checks the result.
func TestFlagsOverrideWorker(t *testing.T) {
	c, err := Load(writeConfig(t, "[defaults]\nbackoff_min = \"10s\"\n[queue.jobs]\nmax_attempts = 2\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Worker("jobs")
	w.MaxAttempts = 4 // --max-attempts 4
	if w.MaxAttempts != 4 || w.BackoffMin != 10*time.Second || w.Validate() != nil {
		t.Fatalf("after the flag: %+v, %v", w, w.Validate())
	}
	for _, tt := range []struct {
		name string
		set  func(*Worker)
		want string
	}{
		{"max_attempts", func(w *Worker) { w.MaxAttempts = 0 }, "max_attempts must be at least 1, not 0"},
		{"negative", func(w *Worker) { w.Grace = -time.Second }, "zero or more"},
		{"backoff", func(w *Worker) { w.BackoffMax = time.Second }, "backoff_max 1s must be at least backoff_min 10s"},
		{"rate", func(w *Worker) { w.Rate = -1 }, "rate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := c.Worker("jobs")
			tt.set(&w)
			if err := w.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
	}{
		{"", 0}, {"0", 0}, {"10/s", 10}, {"600/m", 10}, {"1/h", 1.0 / 3600}, {"0.5/s", 0.5}, {"90/m", 1.5}, {"007/s", 7},
	} {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"fast", "10", "10/", "/s", "10/d", "10/sec", "10/S", "-1/s", "+1/s", "0/s", "0.0/m", "1e3/s", "1./s", ".5/s",
		"0x10/s", "1_000/s", "NaN/s", "inf/s", " 10/s", "10/s ", "10 /s", "1/s/s", "00", "0s", "1" + strings.Repeat("0", 400) + "/s",
	} {
		if got, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("ParseRate(%q): error %q does not quote the input", in, err)
		}
	}
}

func TestDurationTakesStringsOnly(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want time.Duration
		err  string
	}{
		{"5s", 5 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{int64(5), 0, "not the integer 5"},
		{int64(0), 0, "not the integer 0"},
		{1.5, 0, "not the float 1.5"},
		{"5", 0, `not "5"`},
		{"", 0, `not ""`},
		{"-1s", 0, `must be zero or more, not "-1s"`},
		{map[string]any{}, 0, "not a table"},
	} {
		var d Duration
		err := d.UnmarshalTOML(tt.in)
		switch {
		case tt.err == "" && (err != nil || time.Duration(d) != tt.want):
			t.Errorf("UnmarshalTOML(%#v) = %v, %v; want %v", tt.in, time.Duration(d), err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("UnmarshalTOML(%#v): error %v, want one with %q", tt.in, err, tt.err)
		}
	}
}

func TestWorkerConfigErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		key, want  string // key is what the message must name; want is more of it
	}{
		// Malformed files: the parser's position and its last key.
		{"malformed value", "[defaults]\nmax_attempts = = 3\n", 2, "defaults.max_attempts", "expected value"},
		{"duplicate key", "[queue.jobs]\ngrace = \"1s\"\ngrace = \"2s\"\n", 3, "queue.jobs.grace", "already been defined"},
		{"unclosed table", "root = \"/x\"\n[defaults\n", 2, "", "table name"},
		{"unclosed string", "[defaults]\ngrace = \"1s\n", 2, "defaults.grace", "newlines"},
		{"missing value", "root = \n", 1, "root", "expected value"},
		{"unexpected end", "root = \"/x\" # x\n[queue.jobs]\nrate = \"1/s", 3, "", "EOF"},

		// Unknown keys, wherever they are.
		{"misspelt key in a queue", "root = \"/x\"\n\n[queue.jobs]\nmax_atempts = 3\n", 4, `unknown key "queue.jobs.max_atempts"`, "max_attempts, backoff_min"},
		{"misspelt key in defaults", "[defaults]\ngrace = \"1s\"\nrte = \"1/s\"\n", 3, `unknown key "defaults.rte"`, "worker settings"},
		{"misspelt table", "[defualts]\nmax_attempts = 3\n", 1, `unknown key "defualts"`, "root, log_format, identity, nats_creds, allow_network_fs, [defaults] and [queue.NAME]"},
		{"misspelt dotted table", "root = \"/x\"\ndefualts.max_attempts = 3\n", 2, `unknown key "defualts"`, ""},
		{"misspelt queue table", "[queues.jobs]\n", 1, `unknown key "queues"`, ""},
		{"keys are case-sensitive", "[defaults]\nMax_Attempts = 3\n", 2, `unknown key "defaults.Max_Attempts"`, ""},
		{"table in a queue table", "[queue.jobs]\n[queue.jobs.retry]\nmax_attempts = 3\n", 2, `unknown key "queue.jobs.retry"`, ""},
		{"root after a table", "[defaults]\nroot = \"/x\"\n", 2, `unknown key "defaults.root"`, ""},
		{"unknown quoted key", "[defaults]\n\"max attempts\" = 3\n", 2, `unknown key defaults."max attempts" (`, ""},
		{"unknown key in an inline table", "queue = { jobs = { max_attempts = 3, timeout = \"1s\" } }\n", 1, `unknown key "queue.jobs.timeout"`, ""},

		// Queue names.
		{"hidden queue name", "[queue.\".jobs\"]\nmax_attempts = 3\n", 1, `queue.".jobs"`, "bad queue name"},
		{"queue name with a slash", "[defaults]\n[queue.\"a/b\"]\n", 2, `queue."a/b"`, "bad queue name"},
		{"empty queue name", "queue.\"\".rate = \"1/s\"\n", 1, `queue.""`, "bad queue name: empty"},

		// Tables that are not tables.
		{"defaults not a table", "defaults = 3\n", 1, "defaults", "must be a table, not the integer 3"},
		{"queue not a table", "queue = \"jobs\"\n", 1, "queue", `must be a table, not the string "jobs"`},
		{"queue table not a table", "[queue]\njobs = 3\n", 2, "queue.jobs", "must be a table, not the integer 3"},
		{"array of queue tables", "[[queue.jobs]]\nmax_attempts = 3\n", 1, "queue.jobs", "must be a table, not an array of tables"},

		// Values.
		{"max_attempts 0", "# pq\nroot = \"/x\"\n\n[defaults]\nmax_attempts = 3\n\n[queue.jobs]\nmax_attempts = 0\n", 8, "queue.jobs.max_attempts", "must be at least 1, not 0"},
		{"max_attempts negative", "[defaults]\nmax_attempts = -2\n", 2, "defaults.max_attempts", "must be at least 1, not -2"},
		{"max_attempts a string", "[defaults]\nmax_attempts = \"3\"\n", 2, "defaults.max_attempts", `must be an integer, not the string "3"`},
		{"max_attempts a float", "[defaults]\nmax_attempts = 3.0\n", 2, "defaults.max_attempts", "must be an integer, not the float 3.0"},
		{"bare integer duration", "[queue.jobs]\njob_timeout = 5\n", 2, "queue.jobs.job_timeout", `must be a duration in quotes such as "30s"`},
		{"bare zero duration", "[defaults]\ngrace = 0\n", 2, "defaults.grace", "not the integer 0"},
		{"negative duration", "[defaults]\nbackoff_min = \"-1s\"\n", 2, "defaults.backoff_min", `must be zero or more, not "-1s"`},
		{"bad duration", "[queue.jobs]\ngrace = \"soon\"\n", 2, "queue.jobs.grace", `not "soon"`},
		{"duration without unit", "[queue.jobs]\ngrace = \"30\"\n", 2, "queue.jobs.grace", `not "30"`},
		{"bad rate", "[queue.jobs]\nrate = \"fast\"\n", 2, "queue.jobs.rate", `not "fast"`},
		{"rate a number", "[queue.jobs]\nrate = 10\n", 2, "queue.jobs.rate", "not the integer 10"},
		{"zero rate with a unit", "[defaults]\nrate = \"0/s\"\n", 2, "defaults.rate", `use "0" for no limit`},
		{"value that is a table", "[defaults.rate]\nper = \"s\"\n", 1, "defaults.rate", "not a table"},
		{"dotted value that is a table", "[defaults]\nrate.per = \"s\"\n", 2, "defaults.rate", "not a table"},
		{"root not a string", "root = [\"/x\"]\n", 1, "root", "must be a string, not an array"},
		{"dotted value in an inline table", "queue = { jobs = { rate = \"fast\" } }\n", 1, "queue.jobs.rate", ""},
		{"multi-line string", "[defaults]\nrate = \"\"\"\nfast\n\"\"\"\n", 2, "defaults.rate", ""},
		{"first error in the file", "[defaults]\ngrace = \"x\"\nrate = \"y\"\nmax_attempts = 0\n[queue.jobs]\nbackoff_min = \"z\"\n", 2, "defaults.grace", ""},

		// backoff_max below backoff_min, once merged.
		{"backoff in one table", "[queue.jobs]\nbackoff_min = \"10s\"\nbackoff_max = \"5s\"\n", 3, "queue.jobs.backoff_max", "must be at least backoff_min, 10s, not 5s"},
		{"backoff_min over the built-in max", "[defaults]\nbackoff_min = \"10m\"\n", 2, "defaults.backoff_min", "must be at most backoff_max, 5m0s (the built-in default), not 10m0s"},
		{"backoff_max under the built-in min", "[queue.jobs]\nbackoff_max = \"500ms\"\n", 2, "queue.jobs.backoff_max", "must be at least backoff_min, 1s (the built-in default), not 500ms"},
		{"backoff_max under defaults' min", "[defaults]\nbackoff_min = \"1m\"\nbackoff_max = \"1h\"\n\n[queue.jobs]\nbackoff_max = \"30s\"\n", 6, "queue.jobs.backoff_max", "1m0s (from [defaults])"},
		{"backoff_min over defaults' max", "[defaults]\nbackoff_max = \"1m\"\n[queue.jobs]\nbackoff_min = \"2m\"\n", 4, "queue.jobs.backoff_min", "must be at most backoff_max, 1m0s (from [defaults]), not 2m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.text)
			_, err := Load(path, true)
			if err == nil {
				t.Fatalf("loaded:\n%s", tt.text)
			}
			msg := err.Error()
			prefix := fmt.Sprintf("config %s, line %d: ", path, tt.line)
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.key) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error\n\t%s\nwant one line starting %q and naming %q with %q", msg, prefix, tt.key, tt.want)
			}
		})
	}
}

// TestWorkerErrorIsOneLineNamingFileLineAndKey checks a message in full.
func TestWorkerErrorIsOneLineNamingFileLineAndKey(t *testing.T) {
	path := writeConfig(t, "root = \"/x\"\n\n[defaults]\nmax_attempts = 3\n\n[queue.jobs]\nmax_attempts = 0\n")
	_, err := Load(path, true)
	want := "config " + path + ", line 7: queue.jobs.max_attempts: must be at least 1, not 0"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// TestExampleConfigDocumentsDefaults uncomments the commented-out TOML of
// config.example.toml (the lines that start with "#" and no space): its
// [defaults] table must give the built-in defaults, and its [queue.jobs]
// table must load.
func TestExampleConfigDocumentsDefaults(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var tables []string
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) > 1 && line[0] == '#' && line[1] != ' ' && line[1] != '#' {
			line = line[1:]
			if strings.HasPrefix(line, "[") {
				tables = append(tables, line)
			}
		}
		b.WriteString(line + "\n")
	}
	if want := []string{"[defaults]", "[queue.jobs]"}; fmt.Sprint(tables) != fmt.Sprint(want) {
		t.Fatalf("the example's commented tables are %q, want %q", tables, want)
	}
	c, err := Load(writeConfig(t, b.String()), true)
	if err != nil {
		t.Fatalf("the example uncommented: %v\n%s", err, b.String())
	}
	if got := c.Worker("other"); got != DefaultWorker() {
		t.Errorf("the example's [defaults] gives %+v, not the built-in %+v", got, DefaultWorker())
	}
	for _, key := range []string{"max_attempts", "backoff_min", "backoff_max", "job_timeout", "grace", "rate"} {
		if !strings.Contains(b.String(), "\n"+key+" = ") {
			t.Errorf("the example's [defaults] does not show %s", key)
		}
	}
	if got := c.Worker("jobs"); got == DefaultWorker() {
		t.Errorf("the example's [queue.jobs] changes nothing")
	}
}

func TestQueueSettingsFromTables(t *testing.T) {
	c, err := Parse("c.toml", "[defaults]\nttl = \"1h\"\n[queue.jobs]\non_expiry = \"drop\"\n[queue.mail]\nttl = \"5m\"\n")
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]spool.Settings{
		"jobs":  {TTL: time.Hour, OnExpiry: spool.ExpiryDrop},
		"mail":  {TTL: 5 * time.Minute},
		"other": {TTL: time.Hour},
	} {
		if got := c.Queue(q); !reflect.DeepEqual(got, want) {
			t.Errorf("Queue(%q) = %+v, want %+v", q, got, want)
		}
	}
	if _, err := Parse("c.toml", "[defaults]\non_expiry = \"keep\"\n"); err == nil || !strings.Contains(err.Error(), "on_expiry") {
		t.Errorf("on_expiry = \"keep\": %v, want an error naming the key", err)
	}
}

func TestDedupWindowFromTables(t *testing.T) {
	c, err := Parse("c.toml", "[defaults]\ndedup_window = \"10m\"\n[queue.jobs]\ndedup_window = \"1h\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Queue("jobs").DedupWindow; got != time.Hour {
		t.Errorf("jobs: dedup_window %s, want 1h", got)
	}
	if got := c.Queue("other").DedupWindow; got != 10*time.Minute {
		t.Errorf("other: dedup_window %s, want 10m", got)
	}
	for _, bad := range []string{`"0s"`, `"25h"`, `300`, `"soon"`} {
		_, err := Parse("c.toml", "[defaults]\ndedup_window = "+bad+"\n")
		if err == nil || !strings.Contains(err.Error(), "line 2: defaults.dedup_window: ") {
			t.Errorf("dedup_window = %s: %v, want an error naming the line and key", bad, err)
		}
	}
}

// allow_senders is an array of users and groups; anything else names the
// line and the key.
func TestAllowSendersFromTables(t *testing.T) {
	c, err := Parse("c.toml", "[defaults]\nallow_senders = [\"alice\", \"group:web\"]\n[queue.jobs]\nallow_senders = [\"1001\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Queue("jobs").AllowSenders; !slices.Equal(got, []string{"1001"}) {
		t.Errorf("jobs: allow_senders %q, want [1001]", got)
	}
	if got := c.Queue("other").AllowSenders; !slices.Equal(got, []string{"alice", "group:web"}) {
		t.Errorf("other: allow_senders %q", got)
	}
	for _, bad := range []string{`"alice"`, `[1001]`, `["a b"]`, `["group:"]`} {
		_, err := Parse("c.toml", "[defaults]\nallow_senders = "+bad+"\n")
		if err == nil || !strings.Contains(err.Error(), "line 2: defaults.allow_senders: ") {
			t.Errorf("allow_senders = %s: %v, want an error naming the line and key", bad, err)
		}
	}
}

func TestIdentity(t *testing.T) {
	c, err := Parse("pq.toml", `identity = "/keys/pq.txt"`)
	if err != nil || c.Identity != "/keys/pq.txt" {
		t.Errorf("identity: %q, %v", c.Identity, err)
	}
	if _, err := Parse("pq.toml", "identity = 1"); err == nil || !strings.Contains(err.Error(), "line 1: identity: must be a string") {
		t.Errorf("identity = 1: %v, want an error naming the line and the key", err)
	}
}

func TestAllowNetworkFS(t *testing.T) {
	for text, want := range map[string]bool{"": false, "allow_network_fs = true": true, "allow_network_fs = false": false} {
		c, err := Parse("pq.toml", text)
		if err != nil || c.AllowNetworkFS != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", text, c.AllowNetworkFS, err, want)
		}
	}
	if _, err := Parse("pq.toml", `allow_network_fs = "yes"`); err == nil || !strings.Contains(err.Error(), `line 1: allow_network_fs: must be true or false, not the string "yes"`) {
		t.Errorf(`allow_network_fs = "yes": %v, want an error naming the line and the key`, err)
	}
}

func TestLogFormat(t *testing.T) {
	for text, want := range map[string]string{"": "", `log_format = "json"`: "json", `log_format = "text"`: "text"} {
		c, err := Parse("pq.toml", text)
		if err != nil || c.LogFormat != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", text, c.LogFormat, err, want)
		}
	}
	for _, text := range []string{`log_format = "xml"`, `log_format = 1`} {
		if _, err := Parse("pq.toml", text); err == nil || !strings.Contains(err.Error(), "line 1: log_format: must be \"text\" or \"json\"") {
			t.Errorf("Parse(%q) = %v, want an error naming the line and the key", text, err)
		}
	}
}
