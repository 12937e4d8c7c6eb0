package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pq/internal/netfs"
)

// fakeFS makes the queues of the test look as if they were on the file
// system of statfs magic number magic, with mountinfo as the mount table,
// and returns a count of the statfs calls.
func fakeFS(t *testing.T, magic uint32, mountinfo string) *int {
	t.Helper()
	calls := new(int)
	oldMagic, oldInfo := netfs.Magic, netfs.MountInfo
	t.Cleanup(func() { netfs.Magic, netfs.MountInfo = oldMagic, oldInfo })
	netfs.Magic = func(path string) (uint32, error) {
		*calls++
		if _, err := os.Stat(path); err != nil {
			return 0, err
		}
		return magic, nil
	}
	netfs.MountInfo = filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(netfs.MountInfo, []byte(mountinfo), 0o600); err != nil {
		t.Fatal(err)
	}
	return calls
}

// mountLine is a line of /proc/self/mountinfo mounting a file system of
// type fstype on point, escaped as the kernel escapes it.
func mountLine(id int, point, fstype, source string) string {
	esc := strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`)
	return fmt.Sprintf("%d 1 0:%d / %s rw,relatime shared:%d - %s %s rw\n",
		20+id, 40+id, esc.Replace(point), id, esc.Replace(fstype), esc.Replace(source))
}

// Magic numbers of local file systems, as statfs(2) reports them.
const (
	ext4Magic  = 0xEF53
	tmpfsMagic = 0x01021994
	fuseMagic  = 0x65735546
)

func TestCheckNetworkFS(t *testing.T) {
	// The queue lives under a directory with a space in its name, so that
	// the mount tables below escape it as the kernel does (\040).
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "my spool")
	q0, err := Open(root, "jobs", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q0.Create(); err != nil {
		t.Fatal(err)
	}
	top := mountLine(1, "/", "ext4", "/dev/sda1")
	for _, tc := range []struct {
		name      string
		magic     uint32
		mountinfo string
		want      string // the type named in the refusal; "" for none
	}{
		{"ext4", ext4Magic, top, ""},
		{"tmpfs", tmpfsMagic, top, ""},
		{"nfs", 0x6969, top, "nfs"},
		{"cifs", 0xFF534D42, top, "cifs"},
		{"smb2", 0xFE534D42, top, "smb2"},
		{"smb", 0x517B, top, "smb"},
		{"ceph", 0x00C36400, top, "ceph"},
		{"9p", 0x01021997, top, "9p"},
		{"afs", 0x5346414F, top, "afs"},
		{"sshfs", fuseMagic, top + mountLine(2, root, "fuse.sshfs", "ann@host:/spool"), "fuse.sshfs"},
		{"glusterfs", fuseMagic, top + mountLine(2, base, "fuse.glusterfs", "gl1:/vol"), "fuse.glusterfs"},
		{"sshfs of the old style", fuseMagic, top + mountLine(2, root, "fuse", "sshfs#ann@host:/spool"), "fuse.sshfs"},
		{"fuse-overlayfs", fuseMagic, top + mountLine(2, "/", "fuse.fuse-overlayfs", "fuse-overlayfs"), ""},
		{"lxcfs", fuseMagic, top + mountLine(2, base, "fuse.lxcfs", "lxcfs"), ""},
		{"ntfs-3g", fuseMagic, top + mountLine(2, root, "fuseblk", "/dev/sdb1"), ""},
		// The longest mount point that holds the queue tells, whatever
		// the order of the lines: a local mount inside a network one,
		// a network one inside a local one.
		{"local in sshfs", fuseMagic, top + mountLine(3, root, "fuse.bindfs", "/x") + mountLine(2, base, "fuse.sshfs", "h:/"), ""},
		{"sshfs in local", fuseMagic, top + mountLine(2, base, "fuse.bindfs", "/x") + mountLine(3, root, "fuse.sshfs", "h:/"), "fuse.sshfs"},
		// "my" is a prefix of "my spool" but not a directory above it;
		// "my spool/jobs2" is beside the queue, not above it.
		{"prefix of a name", fuseMagic, top + mountLine(2, root, "fuse.squashfuse", "/x") + mountLine(3, filepath.Join(base, "my"), "fuse.sshfs", "h:/") +
			mountLine(4, filepath.Join(root, "jobs2"), "fuse.rclone", "r:"), ""},
		// A later mount on the same point hides the earlier.
		{"mounted over", fuseMagic, top + mountLine(2, root, "fuse.lxcfs", "lxcfs") + mountLine(3, root, "fuse.s3fs", "bucket"), "fuse.s3fs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := fakeFS(t, tc.magic, tc.mountinfo)
			q, err := Open(root, "jobs", Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = q.CheckNetworkFS()
			var nerr *NetworkFSError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckNetworkFS: %v, want nil", err)
			case tc.want != "" && (!errors.Is(err, ErrNetworkFS) || !errors.As(err, &nerr) || nerr.Type != tc.want):
				t.Fatalf("CheckNetworkFS: %v, want an error matching ErrNetworkFS naming %s", err, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), "queue jobs is on a network file system ("+tc.want+")"):
				t.Fatalf("CheckNetworkFS: %q names neither the queue nor the file system", err)
			}
			if again := q.CheckNetworkFS(); !errors.Is(again, err) || *calls != 1 {
				t.Errorf("second CheckNetworkFS: %v after %d statfs calls, want the first answer after one", again, *calls)
			}
			q, _ = Open(root, "jobs", Options{AllowNetworkFS: true})
			if err := q.CheckNetworkFS(); err != nil {
				t.Errorf("CheckNetworkFS with AllowNetworkFS: %v", err)
			}
		})
	}
}

// TestReceiversRefuseNetworkFS shows that on NFS a Receiver and the
// backend's receiver refuse the queue, while sending goes on; and that
// AllowNetworkFS lets them receive.
func TestReceiversRefuseNetworkFS(t *testing.T) {
	q := newQueue(t, Options{})
	fakeFS(t, 0x6969, "")
	if _, err := q.Send(strings.NewReader("body")); err != nil {
		t.Fatalf("send on NFS: %v", err)
	}
	ctx := context.Background()
	bq, err := NewBackend(filepath.Dir(q.Dir()), Options{}).Open(ctx, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bq.NewReceiver(ctx); !errors.Is(err, ErrNetworkFS) {
		t.Errorf("backend NewReceiver on NFS: %v, want ErrNetworkFS", err)
	}
	r := q.NewReceiver()
	defer r.Close()
	for range 2 {
		if c, err := r.Claim(); !errors.Is(err, ErrNetworkFS) {
			t.Fatalf("Claim on NFS: %v, %v; want ErrNetworkFS", c, err)
		}
	}
	allowed, err := Open(filepath.Dir(q.Dir()), "jobs", Options{AllowNetworkFS: true})
	if err != nil {
		t.Fatal(err)
	}
	ar := allowed.NewReceiver()
	defer ar.Close()
	if got := receiveBody(t, ar); got != "body" {
		t.Errorf("received %q with AllowNetworkFS, want %q", got, "body")
	}
}

// TestCheckNetworkFSMissingQueue shows that a queue that does not exist
// yet is not refused, and is asked about again once it does.
func TestCheckNetworkFSMissingQueue(t *testing.T) {
	calls := fakeFS(t, 0x6969, "")
	q, err := Open(t.TempDir(), "jobs", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CheckNetworkFS(); err != nil {
		t.Fatalf("CheckNetworkFS of a missing queue: %v, want nil", err)
	}
	if err := q.Create(); err != nil {
		t.Fatal(err)
	}
	if err := q.CheckNetworkFS(); !errors.Is(err, ErrNetworkFS) || *calls != 2 {
		t.Fatalf("CheckNetworkFS once created: %v after %d statfs calls, want ErrNetworkFS after 2", err, *calls)
	}
}

// TestCheckNetworkFSUnknown shows that a FUSE file system that the mount
// table does not show is not refused: pq cannot tell, and warns.
func TestCheckNetworkFSUnknown(t *testing.T) {
	var log bytes.Buffer
	q := newQueue(t, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	fakeFS(t, fuseMagic, "garbage\n")
	if err := q.CheckNetworkFS(); err != nil {
		t.Fatalf("CheckNetworkFS with no mount holding the queue: %v, want nil", err)
	}
	if !strings.Contains(log.String(), "cannot tell whether the queue is on a network file system") {
		t.Errorf("no warning logged: %q", log.String())
	}
}
