package spool

import (
	"pq/queue"
)

// Header is one of a message's headers: metadata that travels with it
// outside its body, as `pq send -H KEY=VALUE` gives it. Keys that begin
// with "pq-" (or "pq_", in any case) are pq's own, such as the
// pq-reply-to line that `pq recv --headers` shows for a request, and no
// message may carry one.
type Header = queue.Header

// EnvName returns the name of the environment variable that carries the
// header called key to a worker's command: PQ_HEADER_ and the key
// upper-cased, '-' written as '_'.
func EnvName(key string) string { return queue.EnvName(key) }

// checkHeaders reports the first reason hs cannot be a message's headers
// (see [queue.CheckHeaders]).
func checkHeaders(hs []Header) error { return queue.CheckHeaders(hs) }

// ParseHeader parses KEY=VALUE, as `pq send -H` takes it.
func ParseHeader(s string) (Header, error) { return queue.ParseHeader(s) }
