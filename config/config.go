package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"pq/spool"
)

// Config is the contents of pq's configuration file.
type Config struct {
	// Root is the spool directory that holds the queues.
	Root string
	// LogFormat is how a worker logs: "text", "json", or "" for the
	// default (text).
	LogFormat string
	// Identity is the age identity file that opens the messages of
	// encrypted queues; "" for none.
	Identity string
	// NATSCreds is the NATS credentials file for a nats:// or tls://
	// root; "" for none.
	NATSCreds string
	// AllowNetworkFS lets pq recv receive from a queue on a network
	// file system (see spool.Options.AllowNetworkFS).
	AllowNetworkFS bool

	// defaults is the [defaults] table, nil when the file has none.
	defaults *workerTable
	// queues holds the [queue.NAME] tables by NAME.
	queues map[string]*workerTable
}

// Worker holds the settings of a worker loop for one queue.
type Worker struct {
	// MaxAttempts is how many times a message is tried in all, at least
	// 1: 1 means a single attempt and no retry.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the wait before a retry.
	BackoffMin, BackoffMax time.Duration
	// JobTimeout limits one attempt; 0 means no limit.
	JobTimeout time.Duration
	// Grace is how long running jobs may finish after SIGTERM.
	Grace time.Duration
	// Rate is in messages per second; 0 means unlimited.
	Rate float64
}

// Queue returns the queue settings that this file gives queue: ttl,
// on_expiry and dedup_window from [defaults], overridden by [queue.NAME].
// They apply where the queue's own settings file (see spool.Settings) says
// nothing, and a ttl here can only shorten the queue's own: a user's
// configuration never loosens what a queue says of itself.
func (c Config) Queue(queue string) spool.Settings {
	return c.queues[queue].settings(c.defaults.settings(spool.Settings{}))
}

// DefaultWorker returns the built-in defaults.
func DefaultWorker() Worker {
	return Worker{
		MaxAttempts: 5,
		BackoffMin:  time.Second,
		BackoffMax:  5 * time.Minute,
		JobTimeout:  0,
		Grace:       30 * time.Second,
		Rate:        0,
	}
}

// Worker returns the settings for queue: the built-in defaults, overridden
// by the keys that [defaults] sets, overridden by the keys that
// [queue.NAME] sets. Flags come on top, in the caller; see Validate. The
// configuration's values were checked when it was loaded.
func (c Config) Worker(queue string) Worker {
	return c.queues[queue].apply(c.defaults.apply(DefaultWorker()))
}

// Validate reports a setting out of range, for a Worker that was changed
// after Config.Worker returned it, by flags say.
func (w Worker) Validate() error {
	switch {
	case w.MaxAttempts < 1:
		return fmt.Errorf("max_attempts must be at least 1, not %d", w.MaxAttempts)
	case w.BackoffMin < 0, w.BackoffMax < 0, w.JobTimeout < 0, w.Grace < 0:
		return fmt.Errorf("durations must be zero or more: backoff_min %s, backoff_max %s, job_timeout %s, grace %s",
			w.BackoffMin, w.BackoffMax, w.JobTimeout, w.Grace)
	case w.BackoffMax < w.BackoffMin:
		return fmt.Errorf("backoff_max %s must be at least backoff_min %s", w.BackoffMax, w.BackoffMin)
	case !(w.Rate >= 0) || math.IsInf(w.Rate, 0):
		return fmt.Errorf("rate must be zero (unlimited) or a positive number of messages per second, not %g", w.Rate)
	}
	return nil
}

// ParseRate parses a rate limit such as "10/s", "600/m" or "1/h": a
// positive decimal number of messages per second, minute or hour. It
// returns messages per second; "0" and "" mean unlimited and return 0.
func ParseRate(s string) (float64, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	bad := fmt.Errorf(`must be like "10/s", "600/m" or "1/h", or "0" for no limit, not %q`, s)
	num, unit, _ := strings.Cut(s, "/")
	per := map[string]float64{"s": 1, "m": 60, "h": 3600}[unit]
	if per == 0 || !isDecimal(num) {
		return 0, bad
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, bad
	}
	if n == 0 {
		return 0, fmt.Errorf(`must be more than zero, not %q: use "0" for no limit`, s)
	}
	return n / per, nil
}

// isDecimal reports whether s is digits with at most one decimal point
// between them, as in "10" or "0.5".
func isDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	digits := func(s string) bool {
		return s != "" && strings.Trim(s, "0123456789") == ""
	}
	return digits(whole) && (!dot || digits(frac))
}

// Duration is a duration in the configuration file: a string such as
// "30s" or "1m30s" (see time.ParseDuration) that is not negative. A bare
// number such as 30 is an error rather than a count of nanoseconds.
type Duration time.Duration

// UnmarshalTOML implements toml.Unmarshaler. It accepts strings only,
// where an encoding.TextUnmarshaler would get numbers as text too.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf(`must be a duration in quotes such as "30s" or "1m30s", not %s`, describe(v))
	}
	x, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf(`must be a duration such as "30s" or "1m30s", not %q`, s)
	}
	if x < 0 {
		return fmt.Errorf("must be zero or more, not %q", s)
	}
	*d = Duration(x)
	return nil
}
