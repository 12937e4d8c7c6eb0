package spool

import (
	"fmt"
	"math/rand/v2"
	"os"
	"pq/queue"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ID identifies a message for its whole life: it is the part of the file
// name that never changes while the message moves between new/, cur/ and
// dlq/. An ID made by pq reads
//
//	1764074682123456789.4242_9f3a0c1e.host
//
// that is the send time in nanoseconds since the Unix epoch, zero-padded to
// 19 digits so that names sort in time order; the sender's process id and 32
// random bits, joined by an underscore; and the sender's host name, cut to
// the characters [A-Za-z0-9-]. A file placed in new/ by another program
// keeps whatever name it had, and that name is its ID.
type ID = queue.ID

// IDTime returns the send time recorded in an ID made by pq, and false for
// an ID that does not start with one.
func IDTime(id ID) (time.Time, bool) {
	ns, ok := idNanos(string(id))
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// Name is a message file name: an ID followed by metadata fields, each a
// comma, a key of lower-case letters, '=' and a value:
//
//	1764074682123456789.4242_9f3a0c1e.host,a=2
//
// The key a counts the earlier deliveries that did not end in an ack; d is
// the time, in nanoseconds since the Unix epoch, before which the message is
// not to be delivered (set by a retry's backoff or a delayed send); x is the
// time, likewise, from which it is never delivered (set by a send's time to
// live); p is the priority, 0 to 9, left out when it is DefaultPriority; g
// is the message's group (see [SendOptions]); b=N names not a message but
// the directory of an atomic batch of N messages (see
// [Queue.NewAtomicBatch]); m=1 says that the message has a metadata file,
// .meta/ID in the queue directory; r=1 says that it is a request, whose
// sender waits for a reply in .replies/ID (see [Queue.Request]). A field
// whose value is zero (or, for p, the default) is left out, so a fresh
// message's name is its ID. Fields that this version of pq does not know
// are kept, in order, in Extra, and written back unchanged, so that newer
// metadata survives older tools.
type Name struct {
	ID       ID
	Attempts int
	Due      int64
	Expires  int64
	// Priority is 0 (lowest) to 9 (highest); ParseName makes it
	// DefaultPriority when the name has no p field. A Name made as a
	// literal must set it.
	Priority int
	Batch    int
	Group    string
	Meta     bool
	Request  bool
	Extra    []string
}

// Priorities run from MinPriority to MaxPriority: a receiver takes the
// highest priority that is ready first, oldest first within one. A message
// sent without one has DefaultPriority.
const (
	MinPriority     = 0
	MaxPriority     = 9
	DefaultPriority = queue.DefaultPriority
)

// maxNameLen bounds a file name (NAME_MAX on Linux).
const maxNameLen = 255

// String formats n as a file name; ParseName reverses it.
func (n Name) String() string {
	var b strings.Builder
	b.WriteString(string(n.ID))
	if n.Attempts > 0 {
		b.WriteString(",a=")
		b.WriteString(strconv.Itoa(n.Attempts))
	}
	if n.Due > 0 {
		b.WriteString(",d=")
		b.WriteString(strconv.FormatInt(n.Due, 10))
	}
	if n.Expires > 0 {
		b.WriteString(",x=")
		b.WriteString(strconv.FormatInt(n.Expires, 10))
	}
	if n.Priority != DefaultPriority {
		b.WriteString(",p=")
		b.WriteString(strconv.Itoa(n.Priority))
	}
	if n.Batch > 0 {
		b.WriteString(",b=")
		b.WriteString(strconv.Itoa(n.Batch))
	}
	if n.Group != "" {
		b.WriteString(",g=")
		b.WriteString(n.Group)
	}
	if n.Meta {
		b.WriteString(",m=1")
	}
	if n.Request {
		b.WriteString(",r=1")
	}
	for _, f := range n.Extra {
		b.WriteByte(',')
		b.WriteString(f)
	}
	return b.String()
}

// ParseName splits a message file name into its ID and metadata. Any name is
// accepted: when the part after the first comma is not a list of well-formed
// fields, the whole name is the ID.
func ParseName(s string) Name {
	whole := Name{ID: ID(s), Priority: DefaultPriority}
	id, rest, ok := strings.Cut(s, ",")
	if !ok {
		return whole
	}
	n := Name{ID: ID(id), Priority: -1}
	for _, f := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(f, "=")
		if !ok || !validKey(k) || !validValue(v) {
			return whole
		}
		switch k {
		case "a":
			a, ok := positive(v)
			if !ok || n.Attempts != 0 || a > 1<<31 {
				return whole
			}
			n.Attempts = int(a)
			continue
		case "d", "x":
			t := &n.Due
			if k == "x" {
				t = &n.Expires
			}
			d, ok := positive(v)
			if !ok || *t != 0 {
				return whole
			}
			*t = d
			continue
		case "m", "r":
			flag := &n.Meta
			if k == "r" {
				flag = &n.Request
			}
			if v != "1" || *flag {
				return whole
			}
			*flag = true
			continue
		case "g":
			if n.Group != "" || checkGroup(v) != nil {
				return whole
			}
			n.Group = v
			continue
		case "b":
			c, ok := positive(v)
			if !ok || n.Batch != 0 || c > 1<<31 {
				return whole
			}
			n.Batch = int(c)
			continue
		case "p":
			if len(v) != 1 || !isDigit(v[0]) || n.Priority >= 0 {
				return whole
			}
			n.Priority = int(v[0] - '0')
			continue
		}
		n.Extra = append(n.Extra, f)
	}
	if n.Priority < 0 {
		n.Priority = DefaultPriority
	}
	return n
}

// positive parses a canonical decimal number above zero.
func positive(v string) (int64, bool) {
	d, err := strconv.ParseInt(v, 10, 64)
	if err != nil || d <= 0 || strconv.FormatInt(d, 10) != v {
		return 0, false
	}
	return d, true
}

func validKey(k string) bool {
	if k == "" || len(k) > 16 {
		return false
	}
	for _, c := range []byte(k) {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func validValue(v string) bool {
	for _, c := range []byte(v) {
		if !isNameByte(c) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// idNanos reads the send time at the start of an ID made by pq.
func idNanos(s string) (int64, bool) {
	if len(s) < 20 || s[19] != '.' {
		return 0, false
	}
	var ns int64
	for _, c := range []byte(s[:19]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		ns = ns*10 + int64(c-'0')
	}
	return ns, true
}

// bucket returns the directory under new/ where a message sent at ns waits:
// three levels of a thousand seconds, one second and ten milliseconds, so
// that no directory a receiver lists grows with the depth of the queue.
func bucket(ns int64) string {
	sec := ns / 1e9
	return fmt.Sprintf("%07d/%03d/%02d", sec/1000, sec%1000, ns/1e7%100)
}

// bucketEnd returns the end of the span of time that the bucket rel, a
// path relative to new/ of one to three levels, covers, in nanoseconds.
func bucketEnd(rel string) (int64, bool) {
	parts := strings.Split(rel, "/")
	if len(parts) == 0 || len(parts) > bucketDepth {
		return 0, false
	}
	var start int64
	for i, p := range parts {
		if !isBucket(p, i) {
			return 0, false
		}
		start += bucketStart(p, i)
	}
	return start + bucketSpan[len(parts)-1], true
}

// bucketSpan is the span of time a bucket covers at each level.
var bucketSpan = [bucketDepth]int64{1000e9, 1e9, 1e7}

// bucketStart returns how far into its parent's span the bucket named s at
// level begins, in nanoseconds.
func bucketStart(s string, level int) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v * bucketSpan[level]
}

// bucketDepth is the number of directory levels that bucket returns.
const bucketDepth = 3

// isBucket reports whether s is a directory name that bucket makes at level
// (0 for the top).
func isBucket(s string, level int) bool {
	want := [bucketDepth]int{7, 3, 2}[level]
	if len(s) != want {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ids makes IDs. Times are strictly increasing within a process, so one
// process's messages keep their send order even when the clock stands still
// or steps back.
var ids = struct {
	sync.Mutex
	last int64
	host string
	pid  int
	now  func() time.Time
}{now: time.Now}

// newID returns a fresh ID and its send time.
func newID() (ID, int64) {
	ns := nextLocal(ids.now().UnixNano())
	return formatID(ns), ns
}

// cleanHost returns the host name cut to [A-Za-z0-9-] and 32 bytes.
func cleanHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	h, _, _ = strings.Cut(h, ".")
	b := []byte(h)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > 32 {
		b = b[:32]
	}
	return string(b)
}

// ValidName reports whether name may name a queue (see
// [queue.ValidName]). Such a name is a single path element that is never
// hidden and never "." or "..".
func ValidName(name string) error { return queue.ValidName(name) }

// maxWellFormed bounds the name of a message that pq takes as it is: longer
// names are renamed on first touch, so that the fields a retry adds always
// fit in a directory entry.
const maxWellFormed = 200

// wellFormed reports whether base is a message name that pq can use as it
// is: an ID made by pq, then well-formed fields, each key once, all within
// maxWellFormed bytes. Any other file found in new/ is renamed to a fresh
// ID the first time pq touches it, its original name kept in its metadata.
func wellFormed(base string) bool {
	_, ok := parseWellFormed(base)
	return ok
}

// parseWellFormed parses base, reporting whether it is well-formed (see
// wellFormed).
func parseWellFormed(base string) (Name, bool) {
	if len(base) > maxWellFormed || !isPQID(base) {
		return Name{}, false
	}
	if !strings.Contains(base, ",") {
		return Name{ID: ID(base), Priority: DefaultPriority}, true
	}
	n := ParseName(base)
	return n, !strings.Contains(string(n.ID), ",")
}

// isPQID reports whether s starts with an ID made by pq: 19 digits of send
// time, '.', a process id, '_', 8 hex digits, '.', and a host name of
// [A-Za-z0-9-], up to the first comma.
func isPQID(s string) bool {
	if _, ok := idNanos(s); !ok {
		return false
	}
	s, _, _ = strings.Cut(s[20:], ",")
	pid, rest, ok := strings.Cut(s, "_")
	if !ok || pid == "" || len(pid) > 10 || !allBytes(pid, isDigit) {
		return false
	}
	hex, host, ok := strings.Cut(rest, ".")
	return ok && len(hex) == 8 && allBytes(hex, isHex) && host != "" && len(host) <= 64 &&
		allBytes(host, func(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' })
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' }

// formatID makes the ID of a message sent at ns by this process.
func formatID(ns int64) ID {
	ids.Lock()
	if ids.host == "" {
		ids.host = cleanHost()
		ids.pid = os.Getpid()
	}
	host, pid := ids.host, ids.pid
	ids.Unlock()
	return ID(fmt.Sprintf("%019d.%d_%08x.%s", ns, pid, rand.Uint32(), host))
}
