package netfs

import (
	"strings"
	"testing"
)

func TestParseMount(t *testing.T) {
	for _, tc := range []struct {
		line                  string
		point, fstype, source string
		ok                    bool
	}{
		{`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`, "/mnt2", "ext3", "/dev/root", true},
		// No optional fields, and several.
		{`22 1 0:21 / /proc rw - proc proc rw`, "/proc", "proc", "proc", true},
		{`90 29 0:50 / /srv/a rw shared:7 master:3 propagate_from:2 - fuse.sshfs h:/ rw`, "/srv/a", "fuse.sshfs", "h:/", true},
		// Spaces, tabs and backslashes come escaped; a bad escape stays.
		{`90 29 0:50 / /my\040disk\011x\134y\09 rw - fuse.sshfs a\040b:/ rw`, "/my disk\tx\\y\\09", "fuse.sshfs", "a b:/", true},
		{`90 29 0:50 / /x rw shared:1 fuse.sshfs h:/ rw`, "", "", "", false},
		{`garbage`, "", "", "", false},
	} {
		point, fstype, source, ok := parseMount(tc.line)
		if point != tc.point || fstype != tc.fstype || source != tc.source || ok != tc.ok {
			t.Errorf("parseMount(%q) = %q, %q, %q, %v; want %q, %q, %q, %v",
				tc.line, point, fstype, source, ok, tc.point, tc.fstype, tc.source, tc.ok)
		}
	}
}

func TestMountType(t *testing.T) {
	table := `1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:40 / /srv rw - fuse.sshfs h:/ rw
3 2 0:41 / /srv/pq rw - fuse.fuse-overlayfs x rw
4 1 0:42 / /srv/pq2 rw - nfs h:/ rw
`
	for path, want := range map[string]string{
		"/":              "ext4",
		"/home/ann":      "ext4",
		"/srv":           "fuse.sshfs",
		"/srv/jobs":      "fuse.sshfs",
		"/srv/pq":        "fuse.fuse-overlayfs",
		"/srv/pq/jobs":   "fuse.fuse-overlayfs",
		"/srv/pq2/jobs":  "nfs",
		"/srv/pq22/jobs": "fuse.sshfs",
	} {
		got, err := mountType(strings.NewReader(table), path)
		if err != nil || got != want {
			t.Errorf("mountType(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	if got, err := mountType(strings.NewReader("2 1 0:40 / /srv rw - fuse.sshfs h:/ rw\n"), "/home"); err == nil {
		t.Errorf("mountType of a path no mount holds = %q, want an error", got)
	}
}

// TestDetectHere shows that the real statfs(2) answers for the tests'
// temporary directory.
func TestDetectHere(t *testing.T) {
	typ, network, err := Detect(t.TempDir())
	if err != nil || typ == "" {
		t.Fatalf("Detect(a temporary directory) = %q, %v, %v", typ, network, err)
	}
	t.Logf("the temporary directory is on %s", typ)
}
