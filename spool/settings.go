package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// settingsName is the queue's own settings file: settings that every party
// must see alike, whatever configuration file it reads, kept with the queue
// and written by its owner. It holds TOML-style lines, `key = "value"`,
// one a key:
//
//	on_expiry = "drop"
//	ttl = "1h"
const settingsName = ".settings"

// Settings are the queue's own settings (see [Queue.Settings]).
type Settings struct {
	// TTL, when more than zero, is the time to live of every message sent
	// without one of its own: the sender stamps it, every receiver checks
	// it.
	TTL time.Duration
	// OnExpiry says what becomes of an expired message: "dead-letter"
	// (the default: dlq/, with the cause "expired") or "drop" (deleted).
	OnExpiry string
	// DedupWindow is how long a send's dedup id keeps a later send with
	// the same id from making a message (see [SendOptions.DedupID]);
	// zero means DefaultDedupWindow. The sender applies it.
	DedupWindow time.Duration
	// AllowSenders, when not empty, lists who may send to the queue: user
	// names or uids, and "group:NAME" or "group:GID" for the members of a
	// group. A message whose file another user owns never reaches a
	// consumer: receivers dead-letter it with the cause "sender not
	// allowed". A list in the queue's settings file wins over
	// Options.Settings. The receiver applies it.
	AllowSenders []string
	// MinFree is the free space to keep on the queue's file system: a
	// send that would leave less is refused with ErrFull, so that the
	// disk keeps room for the consumers to ack and for everything else.
	// Nil means DefaultMinFree. A value in the queue's settings file
	// wins over Options.Settings. The sender applies it.
	MinFree *Space
	// DLQMaxAge, when more than zero, is how long a dead letter is kept:
	// older ones are removed by workers and pq recover (see
	// [Queue.PruneDeadLetters]).
	DLQMaxAge time.Duration
	// DLQMaxCount, when more than zero, is how many dead letters are
	// kept: the oldest beyond it are removed likewise.
	DLQMaxCount int
	// MaxMessages and MaxBytes, when more than zero, bound the messages
	// in the queue (ready, delayed and in flight) and their bytes: a send
	// that would pass either is refused with ErrFull. Only the queue's
	// settings file sets them, so that no party's configuration lifts
	// them. The queue then keeps counts (see [Queue.Recount]).
	MaxMessages, MaxBytes int64
}

// Expiry policies, the values of Settings.OnExpiry.
const (
	ExpiryDeadLetter = "dead-letter"
	ExpiryDrop       = "drop"
)

// settingKeys are the keys a settings file may hold.
var settingKeys = []string{"allow_senders", "dedup_window", "dlq_max_age", "dlq_max_count", "max_bytes", "max_messages", "min_free", "on_expiry", "ttl"}

// Settings returns the queue's settings: what its settings file says,
// then, for what it does not say, Options.Settings; and the shorter of the
// two ttls where both give one, so that a configuration file can never
// loosen what the queue says of itself. A dedup_window in the file wins
// over Options.Settings, so that every sender uses the queue's own. A queue without a settings file
// has Options.Settings, on_expiry "dead-letter" by default.
func (q *Queue) Settings() (Settings, error) {
	path := filepath.Join(q.dir, settingsName)
	kv := map[string]string{}
	b, err := readFile(path)
	switch {
	case err == nil:
		if kv, err = parseSettings(path, b); err != nil {
			return Settings{}, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Settings{}, fmt.Errorf("settings of %s: %w", q.name, err)
	}
	return merge(kv, q.opts.Settings), nil
}

// merge applies checked key-value pairs of a settings file over the
// settings from a configuration file.
func merge(kv map[string]string, cfg Settings) Settings {
	s := cfg
	if v, ok := kv["ttl"]; ok {
		if own, _ := time.ParseDuration(v); own > 0 && (s.TTL <= 0 || own < s.TTL) {
			s.TTL = own
		}
	}
	if v, ok := kv["on_expiry"]; ok {
		s.OnExpiry = v
	}
	if v, ok := kv["dedup_window"]; ok {
		s.DedupWindow, _ = time.ParseDuration(v)
	}
	if v, ok := kv["allow_senders"]; ok {
		s.AllowSenders = splitSenders(v)
	}
	if v, ok := kv["dlq_max_age"]; ok {
		s.DLQMaxAge, _ = time.ParseDuration(v)
	}
	if v, ok := kv["dlq_max_count"]; ok {
		s.DLQMaxCount, _ = strconv.Atoi(v)
	}
	// Limits come from the queue's own file alone.
	s.MaxMessages, s.MaxBytes = 0, 0
	if v, ok := kv["max_messages"]; ok {
		s.MaxMessages, _ = strconv.ParseInt(v, 10, 64)
	}
	if v, ok := kv["max_bytes"]; ok {
		sp, _ := ParseSpace(v)
		s.MaxBytes = sp.Bytes
	}
	if v, ok := kv["min_free"]; ok {
		if sp, err := ParseSpace(v); err == nil {
			s.MinFree = &sp
		}
	}
	if s.OnExpiry == "" {
		s.OnExpiry = ExpiryDeadLetter
	}
	return s
}

// parseSettings reads the lines of a settings file at path.
func parseSettings(path string, b []byte) (map[string]string, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		uq, err := strconv.Unquote(v)
		if !ok || err != nil {
			return nil, fmt.Errorf("%w: %s, line %d: want key = \"value\"", ErrBadSetting, path, line)
		}
		if err := checkSetting(k, uq); err != nil {
			return nil, fmt.Errorf("%s, line %d: %w", path, line, err)
		}
		kv[k] = uq
	}
	return kv, sc.Err()
}

// checkSetting reports what is wrong with the setting k = v.
// CheckSetting reports whether v is a good value of the setting k, with
// the error that [Queue.Set] gives for it.
func CheckSetting(k, v string) error { return checkSetting(k, v) }

func checkSetting(k, v string) error {
	switch k {
	case "ttl":
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%w: ttl %q: want a duration such as \"90s\" or \"24h\", \"0s\" for none", ErrBadSetting, v)
		}
	case "on_expiry":
		if v != ExpiryDeadLetter && v != ExpiryDrop {
			return fmt.Errorf("%w: on_expiry %q: want %q or %q", ErrBadSetting, v, ExpiryDeadLetter, ExpiryDrop)
		}
	case "dedup_window":
		return checkDedupWindow(v)
	case "allow_senders":
		return CheckSenders(splitSenders(v))
	case "dlq_max_age":
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			return fmt.Errorf("%w: dlq_max_age %q: want a duration such as \"720h\", \"0s\" for no limit", ErrBadSetting, v)
		}
	case "dlq_max_count":
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return fmt.Errorf("%w: dlq_max_count %q: want a number of dead letters, 0 for no limit", ErrBadSetting, v)
		}
	case "max_messages":
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			return fmt.Errorf("%w: max_messages %q: want a number of messages, 0 for no limit", ErrBadSetting, v)
		}
	case "max_bytes":
		if sp, err := ParseSpace(v); err != nil || sp.Percent > 0 {
			return fmt.Errorf("%w: max_bytes %q: want bytes such as \"1GiB\", 0 for no limit", ErrBadSetting, v)
		}
	case "min_free":
		if _, err := ParseSpace(v); err != nil {
			return fmt.Errorf("%w: min_free %w", ErrBadSetting, err)
		}
	default:
		return fmt.Errorf("%w: unknown key %q; the keys are %s", ErrBadSetting, k, strings.Join(settingKeys, ", "))
	}
	return nil
}

// Set changes the queue's settings: each of kv's keys takes its value, the
// others keep theirs. The file is replaced whole and durably (written in
// tmp/, synced, renamed), so that no party ever reads half of it. Only the
// queue's owner should set them; parties read them.
func (q *Queue) Set(kv map[string]string) error {
	path := filepath.Join(q.dir, settingsName)
	all := map[string]string{}
	if b, err := readFile(path); err == nil {
		if all, err = parseSettings(path, b); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("settings of %s: %w", q.name, err)
	}
	for k, v := range kv {
		if err := checkSetting(k, v); err != nil {
			return fmt.Errorf("queue %s: %w", q.name, err)
		}
		all[k] = v
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(all)) {
		fmt.Fprintf(&b, "%s = %s\n", k, strconv.Quote(all[k]))
	}
	if err := q.replaceFile(path, filepath.Join(q.tmp, settingsName), []byte(b.String())); err != nil {
		return fmt.Errorf("settings of %s: %w", q.name, err)
	}
	_, limits := kv["max_messages"]
	if _, ok := kv["max_bytes"]; ok || limits {
		// The queue keeps counts while it has a limit, and only then.
		if _, err := q.Recount(); err != nil {
			return err
		}
	}
	return nil
}
