package jetstream

import (
	"fmt"
	"strconv"
	"strings"
)

// MinServerVersion is the oldest nats-server that pq talks to: 2.12.3 and
// 2.12.4 lost messages that reached their delivery limit on replicated
// work-queue streams.
const MinServerVersion = "2.12.5"

// checkVersion returns an error matching ErrOldServer, with a hint, when
// the server's version v is older than MinServerVersion or cannot be read.
func checkVersion(v string) error {
	if versionAtLeast(v, MinServerVersion) {
		return nil
	}
	return withHint(fmt.Errorf("%w: the server is version %q; pq needs %s or later", ErrOldServer, v, MinServerVersion),
		"upgrade nats-server: 2.12.3 and 2.12.4 lose messages that reach their delivery limit on replicated work-queue streams")
}

// versionAtLeast reports whether the version v, such as "2.12.5" or
// "2.13.0-RC.1", is min or later. A pre-release comes before its release;
// a version that does not parse is never late enough.
func versionAtLeast(v, min string) bool {
	a, apre, ok := parseVersion(v)
	if !ok {
		return false
	}
	b, bpre, _ := parseVersion(min)
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return !apre || bpre
}

// parseVersion parses MAJOR.MINOR.PATCH with an optional -PRERELEASE or
// +BUILD, and a leading 'v'.
func parseVersion(v string) (n [3]int, pre, ok bool) {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v, pre = v[:i], true
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return n, false, false
	}
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || p == "" || p[0] == '+' {
			return n, false, false
		}
		n[i] = x
	}
	return n, pre, true
}
