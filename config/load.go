package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"pq/spool"
)

// attempts is the value of max_attempts: an integer, at least 1.
type attempts int

func (a *attempts) UnmarshalTOML(v any) error {
	n, ok := v.(int64)
	switch {
	case !ok:
		return fmt.Errorf("must be an integer, not %s", describe(v))
	case n < 1:
		return fmt.Errorf("must be at least 1, not %d", n)
	case int64(int(n)) != n:
		return fmt.Errorf("must be at most %d, not %d", math.MaxInt, n)
	}
	*a = attempts(n)
	return nil
}

// rate is the value of rate: a string for ParseRate.
type rate float64

func (r *rate) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf(`must be a string such as "10/s", or "0" for no limit, not %s`, describe(v))
	}
	x, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = rate(x)
	return nil
}

// text is a string value, such as root.
type text string

func (t *text) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a string, not %s", describe(v))
	}
	*t = text(s)
	return nil
}

// boolean is a true or false value, such as allow_network_fs.
type boolean bool

func (b *boolean) UnmarshalTOML(v any) error {
	x, ok := v.(bool)
	if !ok {
		return fmt.Errorf("must be true or false, not %s", describe(v))
	}
	*b = boolean(x)
	return nil
}

// logFormat is the value of log_format: "text" or "json".
type logFormat string

func (f *logFormat) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok || (s != "text" && s != "json") {
		return fmt.Errorf(`must be "text" or "json", not %s`, describe(v))
	}
	*f = logFormat(s)
	return nil
}

// table checks that a value is a table; its keys are decoded one by one.
type table struct{}

func (*table) UnmarshalTOML(v any) error {
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("must be a table, not %s", describe(v))
	}
	return nil
}

// describe names a TOML value that has the wrong type, for an error.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0"
		}
		return "the float " + s
	case bool:
		return fmt.Sprintf("the boolean %t", v)
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("%T", v)
}

// workerTable is a [defaults] or [queue.NAME] table. A nil field is a key
// that the table does not set, which overrides nothing.
type workerTable struct {
	MaxAttempts                               *attempts
	BackoffMin, BackoffMax, JobTimeout, Grace *Duration
	Rate                                      *rate
	TTL                                       *Duration
	OnExpiry                                  *onExpiry
	DedupWindow                               *dedupWindow
	AllowSenders                              *allowSenders
	MinFree                                   *minFree
	DLQMaxAge                                 *Duration
	DLQMaxCount                               *count
}

// workerKeys lists the keys of a workerTable, for errors.
const workerKeys = "max_attempts, backoff_min, backoff_max, job_timeout, grace, rate, ttl, on_expiry, dedup_window, allow_senders, min_free, dlq_max_age and dlq_max_count"

// onExpiry is the value of on_expiry: "dead-letter" or "drop".
type onExpiry string

func (o *onExpiry) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok || s != spool.ExpiryDeadLetter && s != spool.ExpiryDrop {
		return fmt.Errorf("must be %q or %q, not %s", spool.ExpiryDeadLetter, spool.ExpiryDrop, describe(v))
	}
	*o = onExpiry(s)
	return nil
}

// dedupWindow is the value of dedup_window: a duration more than zero
// and at most spool.MaxDedupWindow.
type dedupWindow time.Duration

func (w *dedupWindow) UnmarshalTOML(v any) error {
	var d Duration
	if err := d.UnmarshalTOML(v); err != nil {
		return err
	}
	if d <= 0 || time.Duration(d) > spool.MaxDedupWindow {
		return fmt.Errorf("must be more than zero and at most %s, not %q", "24h", v)
	}
	*w = dedupWindow(d)
	return nil
}

// allowSenders is the value of allow_senders: an array of user names or
// uids, and group:NAME or group:GID.
type allowSenders []string

func (a *allowSenders) UnmarshalTOML(v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("must be an array of strings such as [\"alice\", \"group:web\"], not %s", describe(v))
	}
	*a = make(allowSenders, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return fmt.Errorf("must hold strings only, not %s", describe(e))
		}
		if !spool.ValidSender(s) {
			return fmt.Errorf("%q is not a user name or uid, nor group:NAME or group:GID", s)
		}
		*a = append(*a, s)
	}
	return nil
}

// count is a number of things, zero or more.
type count int

func (c *count) UnmarshalTOML(v any) error {
	n, ok := v.(int64)
	switch {
	case !ok:
		return fmt.Errorf("must be an integer, not %s", describe(v))
	case n < 0:
		return fmt.Errorf("must be 0 or more, not %d", n)
	case int64(int(n)) != n:
		return fmt.Errorf("must be at most %d, not %d", math.MaxInt, n)
	}
	*c = count(n)
	return nil
}

// minFree is the value of min_free: bytes ("100MiB") or a share of the
// disk ("1%").
type minFree spool.Space

func (m *minFree) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a string such as \"100MiB\" or \"1%%\", not %s", describe(v))
	}
	sp, err := spool.ParseSpace(s)
	if err != nil {
		return err
	}
	*m = minFree(sp)
	return nil
}

// field returns a new value for the key called name, set in t, or nil if
// there is no such key.
func (t *workerTable) field(name string) any {
	switch name {
	case "max_attempts":
		t.MaxAttempts = new(attempts)
		return t.MaxAttempts
	case "backoff_min":
		t.BackoffMin = new(Duration)
		return t.BackoffMin
	case "backoff_max":
		t.BackoffMax = new(Duration)
		return t.BackoffMax
	case "job_timeout":
		t.JobTimeout = new(Duration)
		return t.JobTimeout
	case "grace":
		t.Grace = new(Duration)
		return t.Grace
	case "rate":
		t.Rate = new(rate)
		return t.Rate
	case "ttl":
		t.TTL = new(Duration)
		return t.TTL
	case "on_expiry":
		t.OnExpiry = new(onExpiry)
		return t.OnExpiry
	case "dedup_window":
		t.DedupWindow = new(dedupWindow)
		return t.DedupWindow
	case "allow_senders":
		t.AllowSenders = new(allowSenders)
		return t.AllowSenders
	case "min_free":
		t.MinFree = new(minFree)
		return t.MinFree
	case "dlq_max_age":
		t.DLQMaxAge = new(Duration)
		return t.DLQMaxAge
	case "dlq_max_count":
		t.DLQMaxCount = new(count)
		return t.DLQMaxCount
	}
	return nil
}

// settings returns s with the queue settings that t sets replaced.
func (t *workerTable) settings(s spool.Settings) spool.Settings {
	if t == nil {
		return s
	}
	if t.TTL != nil {
		s.TTL = time.Duration(*t.TTL)
	}
	if t.OnExpiry != nil {
		s.OnExpiry = string(*t.OnExpiry)
	}
	if t.DedupWindow != nil {
		s.DedupWindow = time.Duration(*t.DedupWindow)
	}
	if t.AllowSenders != nil {
		s.AllowSenders = *t.AllowSenders
	}
	if t.MinFree != nil {
		sp := spool.Space(*t.MinFree)
		s.MinFree = &sp
	}
	if t.DLQMaxAge != nil {
		s.DLQMaxAge = time.Duration(*t.DLQMaxAge)
	}
	if t.DLQMaxCount != nil {
		s.DLQMaxCount = int(*t.DLQMaxCount)
	}
	return s
}

// apply returns w with the keys that t sets replaced.
func (t *workerTable) apply(w Worker) Worker {
	if t == nil {
		return w
	}
	if t.MaxAttempts != nil {
		w.MaxAttempts = int(*t.MaxAttempts)
	}
	for _, d := range []struct {
		from *Duration
		to   *time.Duration
	}{
		{t.BackoffMin, &w.BackoffMin},
		{t.BackoffMax, &w.BackoffMax},
		{t.JobTimeout, &w.JobTimeout},
		{t.Grace, &w.Grace},
	} {
		if d.from != nil {
			*d.to = time.Duration(*d.from)
		}
	}
	if t.Rate != nil {
		w.Rate = float64(*t.Rate)
	}
	return w
}

// Locate returns the configuration file to read, and whether it must
// exist: flag (the --config flag) if not empty, else $PQ_CONFIG, else the
// default under $XDG_CONFIG_HOME, which may be absent.
func Locate(flag string) (path string, required bool) {
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

// Load reads the configuration file at path. A missing file is an error
// only when required; an empty path reads nothing. Every error is one line
// that names the file, and the line and the key where they are known.
func Load(path string, required bool) (Config, error) {
	if path == "" {
		return Config{}, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(path, string(data))
}

// configReader reads the text of the configuration file at path. It
// decodes the file key by key, in the order of the file, into
// toml.Primitive values first and then into types that check their
// values, so that the first error in the file is the one reported, and
// with the line of the key, which toml knows but does not export.
type configReader struct {
	path, text string
	md         toml.MetaData
	top        map[string]toml.Primitive
}

// Parse reads text, the contents of the configuration file at path, which
// only names the file in errors.
func Parse(path, text string) (Config, error) {
	r := &configReader{path: path, text: text}
	md, err := toml.Decode(text, &r.top)
	if err != nil {
		var perr toml.ParseError
		if !errors.As(err, &perr) {
			return Config{}, fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "toml: "))
		}
		msg := strings.TrimPrefix(perr.Message, "toml: ")
		if perr.LastKey != "" {
			msg = perr.LastKey + ": " + msg
		}
		if line := r.lineOf(perr.Position); line > 0 {
			return Config{}, fmt.Errorf("config %s, line %d: %s", path, line, msg)
		}
		return Config{}, fmt.Errorf("config %s: %s", path, msg)
	}
	r.md = md
	c := Config{queues: map[string]*workerTable{}}
	var order []string // of the queues, as in the file
	for _, key := range md.Keys() {
		if err := r.set(&c, key, &order); err != nil {
			return Config{}, err
		}
	}
	if err := r.checkBackoff(toml.Key{"defaults"}, c.defaults, nil); err != nil {
		return Config{}, err
	}
	for _, name := range order {
		if err := r.checkBackoff(toml.Key{"queue", name}, c.queues[name], c.defaults); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// set checks key, one of the file's keys, and sets its value in c.
func (r *configReader) set(c *Config, key toml.Key, order *[]string) error {
	switch key[0] {
	case "root":
		var s text
		if err := r.decode(key, key[:1], &s); err != nil {
			return err
		}
		c.Root = string(s)
		return nil
	case "log_format":
		var f logFormat
		if err := r.decode(key, key[:1], &f); err != nil {
			return err
		}
		c.LogFormat = string(f)
		return nil
	case "identity":
		var s text
		if err := r.decode(key, key[:1], &s); err != nil {
			return err
		}
		c.Identity = string(s)
		return nil
	case "nats_creds":
		var s text
		if err := r.decode(key, key[:1], &s); err != nil {
			return err
		}
		c.NATSCreds = string(s)
		return nil
	case "allow_network_fs":
		var b boolean
		if err := r.decode(key, key[:1], &b); err != nil {
			return err
		}
		c.AllowNetworkFS = bool(b)
		return nil
	case "defaults":
		if c.defaults == nil {
			c.defaults = &workerTable{}
		}
		return r.setWorker(key, 1, c.defaults)
	case "queue":
		if len(key) == 1 {
			return r.decode(key, key, new(table))
		}
		name := key[1]
		if err := spool.ValidName(name); err != nil {
			return r.errorf(key, "%s: %v", key[:2], err)
		}
		t := c.queues[name]
		if t == nil {
			t = &workerTable{}
			c.queues[name] = t
			*order = append(*order, name)
		}
		return r.setWorker(key, 2, t)
	}
	return r.errorf(key, "unknown key %s (the top level holds root, log_format, identity, nats_creds, allow_network_fs, [defaults] and [queue.NAME])", quoteKey(key[:1]))
}

// setWorker sets key in t, the table that key[:i] names.
func (r *configReader) setWorker(key toml.Key, i int, t *workerTable) error {
	if len(key) == i {
		return r.decode(key, key, new(table))
	}
	v := t.field(key[i])
	if v == nil {
		return r.errorf(key, "unknown key %s (a table of worker settings holds %s)", quoteKey(key[:i+1]), workerKeys)
	}
	// key[:i+1] is key unless it is a table, which its value will refuse.
	return r.decode(key, key[:i+1], v)
}

// quoteKey quotes a key for an error, unless it has quoted parts already.
func quoteKey(k toml.Key) string {
	s := k.String()
	if strings.Contains(s, `"`) {
		return s
	}
	return `"` + s + `"`
}

// checkBackoff checks that backoff_max is at least backoff_min in the
// table at key, t, over defaults and the built-in defaults. It blames the
// key of the two that t sets, backoff_max if it sets both.
func (r *configReader) checkBackoff(key toml.Key, t, defaults *workerTable) error {
	w := t.apply(defaults.apply(DefaultWorker()))
	if t == nil || w.BackoffMax >= w.BackoffMin {
		return nil
	}
	from := func(set func(*workerTable) bool) string {
		switch {
		case set(t):
			return ""
		case defaults != nil && set(defaults):
			return " (from [defaults])"
		}
		return " (the built-in default)"
	}
	hasMin := func(t *workerTable) bool { return t.BackoffMin != nil }
	hasMax := func(t *workerTable) bool { return t.BackoffMax != nil }
	at := func(name string) toml.Key { return append(key[:len(key):len(key)], name) }
	if hasMax(t) {
		return r.errorf(at("backoff_max"), "%s: must be at least backoff_min, %s%s, not %s",
			at("backoff_max"), w.BackoffMin, from(hasMin), w.BackoffMax)
	}
	return r.errorf(at("backoff_min"), "%s: must be at most backoff_max, %s%s, not %s",
		at("backoff_min"), w.BackoffMax, from(hasMax), w.BackoffMin)
}

// decode decodes the value of key into v, whose UnmarshalTOML checks it.
// An error names key and the line of at, key or a key inside it: key may
// be a table that only at, a dotted key, defines.
func (r *configReader) decode(at, key toml.Key, v any) error {
	p, ok := r.primitive(key)
	if !ok {
		return r.errorf(at, "%s: not found", key)
	}
	if err := r.md.PrimitiveDecode(p, v); err != nil {
		msg := err.Error()
		var perr toml.ParseError
		if errors.As(err, &perr) {
			msg = perr.Message
		}
		return r.errorf(at, "%s: %s", key, strings.TrimPrefix(msg, "toml: "))
	}
	return nil
}

// primitive returns the undecoded value of key.
func (r *configReader) primitive(key toml.Key) (toml.Primitive, bool) {
	m := r.top
	for i, k := range key {
		p, ok := m[k]
		if !ok {
			break
		}
		if i == len(key)-1 {
			return p, true
		}
		m = nil
		if r.md.PrimitiveDecode(p, &m) != nil {
			break
		}
	}
	return toml.Primitive{}, false
}

// errorf returns an error that names the file and the line of key.
func (r *configReader) errorf(key toml.Key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if line := r.line(key); line > 0 {
		return fmt.Errorf("config %s, line %d: %s", r.path, line, msg)
	}
	return fmt.Errorf("config %s: %s", r.path, msg)
}

// errHere is the error of locator.
var errHere = errors.New("here")

// locator refuses every value, for toml to say where the value is.
type locator struct{}

func (*locator) UnmarshalTOML(any) error { return errHere }

// line returns the line where key is defined, or 0 if that is not known.
func (r *configReader) line(key toml.Key) int {
	p, ok := r.primitive(key)
	if !ok {
		return 0
	}
	var perr toml.ParseError
	if !errors.As(r.md.PrimitiveDecode(p, new(locator)), &perr) {
		return 0
	}
	return r.lineOf(perr.Position)
}

// lineOf returns the line of a position that toml gives. It counts from
// the start of the position, since toml's line is the one where a
// multi-line string ends, and the next one for an unexpected newline.
func (r *configReader) lineOf(p toml.Position) int {
	if p.Line < 1 {
		return 0
	}
	if p.Start >= 0 && p.Start < len(r.text) {
		return 1 + strings.Count(r.text[:p.Start], "\n")
	}
	return p.Line
}
