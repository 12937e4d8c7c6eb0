package queue

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The rules that every backend keeps for queue names and headers, so that
// a script that works on one works on the other.

// ErrBadName reports a queue name that pq refuses: see [ValidName].
var ErrBadName = errors.New("bad queue name")

// ValidName reports whether name may name a queue: one to 128 characters
// from [A-Za-z0-9._-], starting with a letter or digit. Such a name is a
// single path element that is never hidden and never "." or "..".
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(name) > 128:
		return fmt.Errorf("%w: %.20q... is %d characters, the limit is 128", ErrBadName, name, len(name))
	case !isAlnum(name[0]):
		return fmt.Errorf("%w: %q must start with a letter or digit", ErrBadName, name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%w: %q holds %q; use only letters, digits, '.', '_' and '-'", ErrBadName, name, c)
		}
	}
	return nil
}

// ErrBadHeader reports a header that pq refuses: see [CheckHeaders].
var ErrBadHeader = errors.New("bad header")

// MaxHeaderBytes bounds the headers of one message, keys and values.
const MaxHeaderBytes = 4 << 10

// EnvName returns the name of the environment variable that carries the
// header called key to a worker's command: PQ_HEADER_ and the key
// upper-cased, '-' written as '_'.
func EnvName(key string) string {
	return "PQ_HEADER_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// CheckHeaders reports the first reason hs cannot be a message's headers:
// a bad key (see [CheckHeaderKey]) or value (UTF-8 text without NUL or
// newline), two keys that name the same environment variable, or more
// than MaxHeaderBytes in all.
func CheckHeaders(hs []Header) error {
	total := 0
	seen := map[string]string{}
	for _, h := range hs {
		if err := CheckHeaderKey(h.Key); err != nil {
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
	if total > MaxHeaderBytes {
		return fmt.Errorf("%w: %d bytes of headers, the limit is %d", ErrBadHeader, total, MaxHeaderBytes)
	}
	return nil
}

// CheckHeaderKey reports whether k may be a header's key:
// [A-Za-z0-9][A-Za-z0-9_-]{0,63}, not beginning with "pq-" or "pq_" in
// any case, which are pq's own.
func CheckHeaderKey(k string) error {
	if k == "" || len(k) > 64 {
		return fmt.Errorf("%w: a key has 1 to 64 characters, not %d", ErrBadHeader, len(k))
	}
	if l := strings.ToLower(k); strings.HasPrefix(l, "pq-") || strings.HasPrefix(l, "pq_") {
		return fmt.Errorf("%w: key %q: keys beginning with pq- are pq's own", ErrBadHeader, k)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !isAlnum(c) && (i == 0 || c != '_' && c != '-') {
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
	return h, CheckHeaders([]Header{h})
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
