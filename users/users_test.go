package users

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// table returns a Table of the passwd and group lines given.
func table(t *testing.T, passwd, group string) *Table {
	t.Helper()
	dir := t.TempDir()
	p, g := filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	os.WriteFile(p, []byte(passwd), 0o600)
	os.WriteFile(g, []byte(group), 0o600)
	return &Table{Passwd: p, Group: g}
}

const (
	passwd = "# comment\nroot:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\nbob:x:1002:100::/home/bob:/bin/sh\nbroken line\n+nis\n"
	group  = "root:x:0:\nalice:x:1001:\nusers:x:100:\nweb:x:33:alice, carol\n"
)

func TestNamesAndIDs(t *testing.T) {
	tb := table(t, passwd, group)
	if got := tb.Name(1001); got != "alice" {
		t.Errorf("Name(1001) = %q, want alice", got)
	}
	if got := tb.Name(4242); got != "4242" {
		t.Errorf("Name(4242) = %q, want the number", got)
	}
	for s, want := range map[string]uint32{"bob": 1002, "root": 0, "777": 777} {
		if got, err := tb.UID(s); err != nil || got != want {
			t.Errorf("UID(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	if _, err := tb.UID("mallory"); !errors.Is(err, ErrUnknown) {
		t.Errorf("UID(mallory): %v, want ErrUnknown", err)
	}
	if got, err := tb.GID("web"); err != nil || got != 33 {
		t.Errorf("GID(web) = %d, %v; want 33", got, err)
	}
	if _, err := tb.GID("nobody-group"); !errors.Is(err, ErrUnknown) {
		t.Errorf("GID(nobody-group): %v, want ErrUnknown", err)
	}
}

// A user is in a group that is its primary group or that lists it.
func TestMembership(t *testing.T) {
	tb := table(t, passwd, group)
	for _, tt := range []struct {
		uid, gid uint32
		want     bool
	}{
		{1001, 33, true},   // listed in web
		{1001, 1001, true}, // primary
		{1002, 100, true},  // primary, not listed
		{1002, 33, false},
		{4242, 33, false}, // unknown user
	} {
		if got := tb.InGroup(tt.uid, tt.gid); got != tt.want {
			t.Errorf("InGroup(%d, %d) = %v, want %v", tt.uid, tt.gid, got, tt.want)
		}
	}
}

// Without its files, a Table knows numbers only, and says why names fail.
func TestMissingFiles(t *testing.T) {
	tb := &Table{Passwd: "/nonexistent/passwd", Group: "/nonexistent/group"}
	if got := tb.Name(5); got != "5" {
		t.Errorf("Name(5) = %q", got)
	}
	if _, err := tb.UID("alice"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("UID(alice) without files: %v, want ErrNotExist", err)
	}
	if got, err := tb.UID("12"); err != nil || got != 12 {
		t.Errorf("UID(12) = %d, %v", got, err)
	}
}
