// Package users reads the local Unix users and groups from /etc/passwd and
// /etc/group, for naming the sender of a message and checking it against
// a queue's list of allowed senders.
//
// It parses the files itself rather than using os/user, which on Linux
// calls the C library through cgo whenever a C compiler is at hand: that
// would make pq a dynamically linked program and cost every start of it
// the dynamic loader. So only the users and groups in those two files are
// known (not those of LDAP or other name services); numeric ids always
// work.
//
// The files are read on first use and kept for the life of the Table.
// A Table is safe for concurrent use.
package users

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrUnknown reports a user or group name that the files do not list.
var ErrUnknown = errors.New("unknown user or group")

// Table is what /etc/passwd and /etc/group (or the files named) say.
type Table struct {
	// Passwd and Group are the files to read; empty means the system's.
	Passwd, Group string

	once   sync.Once
	err    error
	byUID  map[uint32]user
	byName map[string]uint32
	groups map[string]uint32   // group name to gid
	member map[string][]uint32 // user name to the gids of the groups that list it
}

type user struct {
	name string
	gid  uint32
}

// System is the Table of the system's own files.
var System = &Table{}

// Name returns the name of the user uid, or uid as a decimal number when
// the files do not list it.
func (t *Table) Name(uid uint32) string {
	if t.load() == nil {
		if u, ok := t.byUID[uid]; ok {
			return u.name
		}
	}
	return strconv.FormatUint(uint64(uid), 10)
}

// UID returns the user id that s names: a user name, or a decimal number.
func (t *Table) UID(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	if err := t.load(); err != nil {
		return 0, err
	}
	if uid, ok := t.byName[s]; ok {
		return uid, nil
	}
	return 0, fmt.Errorf("user %q: %w", s, ErrUnknown)
}

// GID returns the group id that s names: a group name, or a decimal number.
func (t *Table) GID(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	if err := t.load(); err != nil {
		return 0, err
	}
	if gid, ok := t.groups[s]; ok {
		return gid, nil
	}
	return 0, fmt.Errorf("group %q: %w", s, ErrUnknown)
}

// InGroup reports whether the user uid belongs to the group gid: as its
// primary group, or as a member that the group file lists.
func (t *Table) InGroup(uid, gid uint32) bool {
	if t.load() != nil {
		return false
	}
	u, ok := t.byUID[uid]
	if !ok {
		return false
	}
	return u.gid == gid || slices.Contains(t.member[u.name], gid)
}

// load reads the files once.
func (t *Table) load() error {
	t.once.Do(func() {
		t.byUID, t.byName = map[uint32]user{}, map[string]uint32{}
		t.groups, t.member = map[string]uint32{}, map[string][]uint32{}
		t.err = errors.Join(
			t.read(or(t.Passwd, "/etc/passwd"), t.addUser),
			t.read(or(t.Group, "/etc/group"), t.addGroup))
	})
	return t.err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// read calls add with the fields of each line of the file at path.
func (t *Table) read(path string, add func([]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	defer f.Close()
	return parse(f, add)
}

// parse calls add with the colon-separated fields of each line of r that
// is not empty or a comment.
func parse(r io.Reader, add func([]string)) error {
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue // NIS compatibility entries name no one here
		}
		add(strings.Split(line, ":"))
	}
	return s.Err()
}

// addUser takes a line of the passwd file: name:password:uid:gid:...
func (t *Table) addUser(f []string) {
	if len(f) < 4 {
		return
	}
	uid, err1 := strconv.ParseUint(f[2], 10, 32)
	gid, err2 := strconv.ParseUint(f[3], 10, 32)
	if err1 != nil || err2 != nil {
		return
	}
	if _, dup := t.byUID[uint32(uid)]; !dup {
		t.byUID[uint32(uid)] = user{name: f[0], gid: uint32(gid)}
	}
	if _, dup := t.byName[f[0]]; !dup {
		t.byName[f[0]] = uint32(uid)
	}
}

// addGroup takes a line of the group file: name:password:gid:member,...
func (t *Table) addGroup(f []string) {
	if len(f) < 4 {
		return
	}
	gid, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		return
	}
	if _, dup := t.groups[f[0]]; !dup {
		t.groups[f[0]] = uint32(gid)
	}
	for _, m := range strings.Split(f[3], ",") {
		if m = strings.TrimSpace(m); m != "" {
			t.member[m] = append(t.member[m], uint32(gid))
		}
	}
}
