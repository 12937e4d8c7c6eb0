// Package config reads pq's configuration file: the spool root and the
// settings of workers, per queue.
//
// The file is TOML:
//
//	root = "/var/spool/pq"
//
//	[defaults]            # every queue's workers
//	max_attempts = 5
//	backoff_min = "1s"
//	backoff_max = "5m"
//	job_timeout = "0s"    # no limit
//	grace = "30s"
//	rate = "0"            # no limit; or "10/s", "600/m", "1/h"
//
//	[queue.mail]          # the queue "mail", over [defaults]
//	max_attempts = 10
//
// [Config.Worker] gives a queue's settings: the built-in defaults
// ([DefaultWorker]), overridden by the keys that [defaults] sets, overridden
// by the keys of the queue's own table. A command line puts its flags on
// top and checks the result with [Worker.Validate].
//
// Loading is strict. An unknown key, a value of the wrong type, a bare
// number where a duration belongs (a duration is a string such as "30s",
// never a count of nanoseconds), a value out of range and a backoff_max
// below backoff_min are errors. Every error is one line that names the
// file, the line and the key, such as
//
//	config /etc/pq.toml, line 7: queue.jobs.max_attempts: must be at least 1, not 0
//
// and the first error in the file is the one reported.
//
// The package reads files and the environment ($PQ_CONFIG,
// $XDG_CONFIG_HOME, in [Locate]) and nothing else; a Config is a plain
// value, safe to share once loaded.
package config
