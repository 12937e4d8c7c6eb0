package spool

import (
	"fmt"
	"pq/queue"
	"strings"
	"unicode/utf8"
)

// Header is one of a message's headers: metadata that travels with it
// outside its body, as `pq send -H KEY=VALUE` gives it. Keys that begin
// with "pq-" (or "pq_", in any case) are pq's own, such as the
// pq-reply-to line that `pq recv --headers` shows for a request, and no
// message may carry one.
type Header = queue.Header

// maxHeaderBytes bounds the headers of one message, keys and values.
const maxHeaderBytes = 4 << 10

// EnvName returns the name of the environment variable that carries the
// header called key to a worker's command: PQ_HEADER_ and the key
// upper-cased, '-' written as '_'.
func EnvName(key string) string {
	return "PQ_HEADER_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// checkHeaders reports the first reason hs cannot be a message's headers:
// a bad key or value, two keys that name the same environment variable,
// or more than 4 KiB in all.
func checkHeaders(hs []Header) error {
	total := 0
	seen := map[string]string{}
	for _, h := range hs {
		if err := checkKey(h.Key); err != nil {
			return err
		}
		if !utf8.ValidString(h.Value) || strings.ContainsAny(h.Value, "\x00\n") {
			return fmt.Errorf("%w: the value of %s must be UTF-8 text without NUL or newline", ErrBadHeader, h.Key)
		}
		env := EnvName(h.Key)
		if prev, dup := seen[env]; dup {
			return fmt.Errorf("%w: %s and %s are the same header (%s)", ErrBadHeader, prev, h.Key, env)
		}
		seen[env] = h.Key
		total += len(h.Key) + len(h.Value)
	}
	if total > maxHeaderBytes {
		return fmt.Errorf("%w: %d bytes of headers, the limit is %d", ErrBadHeader, total, maxHeaderBytes)
	}
	return nil
}

// checkKey reports whether k is a header key: [A-Za-z0-9][A-Za-z0-9_-]{0,63}.
func checkKey(k string) error {
	if k == "" || len(k) > 64 {
		return fmt.Errorf("%w: a key has 1 to 64 characters, not %d", ErrBadHeader, len(k))
	}
	if l := strings.ToLower(k); strings.HasPrefix(l, "pq-") || strings.HasPrefix(l, "pq_") {
		return fmt.Errorf("%w: key %q: keys beginning with pq- are pq's own", ErrBadHeader, k)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		alnum := isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alnum && (i == 0 || c != '_' && c != '-') {
			return fmt.Errorf("%w: key %q: use letters, digits, '_' and '-', starting with a letter or digit", ErrBadHeader, k)
		}
	}
	return nil
}

// ParseHeader parses KEY=VALUE, as `pq send -H` takes it.
func ParseHeader(s string) (Header, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return Header{}, fmt.Errorf("%w: %q is not KEY=VALUE", ErrBadHeader, s)
	}
	h := Header{Key: k, Value: v}
	return h, checkHeaders([]Header{h})
}
