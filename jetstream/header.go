package jetstream

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"pq/queue"
)

// pq's own NATS headers. A user's header keys never begin with "pq-" nor
// with "nats-", in any case.
const (
	// hdrKeys lists the user's header keys in their order, comma
	// separated, with a '*' after each whose value is quoted (Go syntax)
	// because NATS would not carry it as it is (a space or tab at either
	// end, a carriage return). NATS headers are a map: this keeps the
	// order.
	hdrKeys = "Pq-Keys"
	// hdrExpires holds the time from which a message is not delivered,
	// in Unix nanoseconds.
	hdrExpires = "Pq-Expires"
	// The reason of a dead letter.
	hdrCause    = "Pq-Cause"
	hdrAttempts = "Pq-Attempts"
	hdrTime     = "Pq-Time"
	hdrStderr   = "Pq-Stderr" // base64 (standard, padded)
	hdrUntried  = "Pq-Untried"
	// hdrID holds a dead letter's ID in its queue's stream: the stream
	// sequence it had there.
	hdrID = "Pq-Id"
)

// maxHeaderBytes bounds a message's user headers, keys and values, as for
// a spool.
const maxHeaderBytes = 4 << 10

// checkHeaders reports the first reason hs cannot be a message's headers,
// with the rules of a spool, and a key that begins with "nats-", which
// the server reads as its own.
func checkHeaders(hs []queue.Header) error {
	total := 0
	seen := map[string]string{}
	for _, h := range hs {
		if err := checkKey(h.Key); err != nil {
			return err
		}
		if !utf8.ValidString(h.Value) || strings.ContainsAny(h.Value, "\x00\n") {
			return fmt.Errorf("%w: the value of %s must be UTF-8 text without NUL or newline", ErrBadHeader, h.Key)
		}
		env := strings.ToUpper(strings.ReplaceAll(h.Key, "-", "_"))
		if prev, dup := seen[env]; dup {
			return fmt.Errorf("%w: %s and %s are the same header (PQ_HEADER_%s)", ErrBadHeader, prev, h.Key, env)
		}
		seen[env] = h.Key
		total += len(h.Key) + len(h.Value)
	}
	if total > maxHeaderBytes {
		return fmt.Errorf("%w: %d bytes of headers, the limit is %d", ErrBadHeader, total, maxHeaderBytes)
	}
	return nil
}

// checkKey reports whether k may be a user's header key.
func checkKey(k string) error {
	if k == "" || len(k) > 64 {
		return fmt.Errorf("%w: a key has 1 to 64 characters, not %d", ErrBadHeader, len(k))
	}
	l := strings.ToLower(k)
	if strings.HasPrefix(l, "pq-") || strings.HasPrefix(l, "pq_") {
		return fmt.Errorf("%w: key %q: keys beginning with pq- are pq's own", ErrBadHeader, k)
	}
	if strings.HasPrefix(l, "nats-") || strings.HasPrefix(l, "nats_") {
		return fmt.Errorf("%w: key %q: keys beginning with nats- are the NATS server's own", ErrBadHeader, k)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isAlnum(c) && (i == 0 || c != '_' && c != '-') {
			return fmt.Errorf("%w: key %q: use letters, digits, '_' and '-', starting with a letter or digit", ErrBadHeader, k)
		}
	}
	return nil
}

// needsQuote reports whether NATS would not carry the value v as it is:
// nats.go trims spaces and tabs at either end of a value and writes a
// carriage return as a space.
func needsQuote(v string) bool {
	return v != strings.Trim(v, " \t") || strings.ContainsRune(v, '\r')
}

// putHeaders writes hs into h, with their order in Pq-Keys.
func putHeaders(h nats.Header, hs []queue.Header) {
	if len(hs) == 0 {
		return
	}
	keys := make([]string, len(hs))
	for i, x := range hs {
		keys[i] = x.Key
		v := x.Value
		if needsQuote(v) {
			keys[i] += "*"
			v = strconv.Quote(v)
		}
		h.Add(x.Key, v)
	}
	h.Set(hdrKeys, strings.Join(keys, ","))
}

// getHeaders returns the user's headers that h holds, in the order that
// Pq-Keys gives. Without Pq-Keys (a message that another NATS client
// sent) they come sorted by key, less the Nats- and Pq- ones.
func getHeaders(h nats.Header) ([]queue.Header, error) {
	list, ok := h[hdrKeys]
	if !ok {
		return foreignHeaders(h), nil
	}
	var hs []queue.Header
	used := map[string]int{}
	for _, k := range strings.Split(strings.Join(list, ","), ",") {
		if k == "" {
			continue
		}
		k, quoted := strings.CutSuffix(k, "*")
		vs := h[k]
		if used[k] >= len(vs) {
			return nil, fmt.Errorf("%w: %s lists %s, which the message lacks", ErrBadHeader, hdrKeys, k)
		}
		v := vs[used[k]]
		used[k]++
		if quoted {
			uq, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrBadHeader, k, err)
			}
			v = uq
		}
		hs = append(hs, queue.Header{Key: k, Value: v})
	}
	return hs, nil
}

// foreignHeaders returns the headers of a message that pq did not send,
// sorted by key, less those of NATS and pq.
func foreignHeaders(h nats.Header) []queue.Header {
	var hs []queue.Header
	for k, vs := range h {
		l := strings.ToLower(k)
		if strings.HasPrefix(l, "nats-") || strings.HasPrefix(l, "pq-") {
			continue
		}
		for _, v := range vs {
			hs = append(hs, queue.Header{Key: k, Value: v})
		}
	}
	slices.SortStableFunc(hs, func(a, b queue.Header) int { return strings.Compare(a.Key, b.Key) })
	return hs
}

// putReason writes r and the message's ID into h.
func putReason(h nats.Header, r queue.Reason, id queue.ID) {
	h.Set(hdrCause, oneLine(r.Cause))
	h.Set(hdrAttempts, strconv.Itoa(r.Attempts))
	h.Set(hdrTime, r.Time.UTC().Format(timeFormat))
	if r.Stderr != "" {
		h.Set(hdrStderr, base64.StdEncoding.EncodeToString([]byte(r.Stderr)))
	}
	if r.Untried {
		h.Set(hdrUntried, "true")
	}
	h.Set(hdrID, string(id))
}

// getReason reads the reason that putReason wrote; what is missing or
// does not parse stays zero.
func getReason(h nats.Header) queue.Reason {
	var r queue.Reason
	r.Cause = h.Get(hdrCause)
	r.Attempts, _ = strconv.Atoi(h.Get(hdrAttempts))
	r.Time, _ = parseTime(h.Get(hdrTime))
	if b, err := base64.StdEncoding.DecodeString(h.Get(hdrStderr)); err == nil {
		r.Stderr = string(b)
	}
	r.Untried = h.Get(hdrUntried) == "true"
	return r
}

// oneLine folds s onto one line, as a spool's reason file does.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
