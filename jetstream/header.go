package jetstream

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

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

// checkHeaders reports the first reason hs cannot be a message's headers:
// the rules of every queue ([queue.CheckHeaders]), and a key that begins
// with "nats-", which the server reads as its own. Each error matches
// queue.ErrBadHeader.
func checkHeaders(hs []queue.Header) error {
	for _, h := range hs {
		if l := strings.ToLower(h.Key); strings.HasPrefix(l, "nats-") || strings.HasPrefix(l, "nats_") {
			return fmt.Errorf("%w: key %q: keys beginning with nats- are the NATS server's own", queue.ErrBadHeader, h.Key)
		}
	}
	return queue.CheckHeaders(hs)
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
			return nil, fmt.Errorf("%w: %s lists %s, which the message lacks", queue.ErrBadHeader, hdrKeys, k)
		}
		v := vs[used[k]]
		used[k]++
		if quoted {
			uq, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", queue.ErrBadHeader, k, err)
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
