// Package netfs tells whether a directory is on a network file system:
// one that several hosts mount at once, where a spool's claims are not
// safe (directory listings cached for up to a minute, inotify blind to
// other hosts' changes, the locks of a dead host held for a lease with
// no fencing). Package spool refuses to receive from such a directory.
//
// On Linux it asks statfs(2) for the file system's magic number, and for
// FUSE, which serves local and network file systems under one number,
// reads the type of the mount that holds the directory in
// /proc/self/mountinfo ("fuse.sshfs" is a network one, "fuse.fuse-overlayfs"
// is not). Elsewhere it detects nothing.
//
// Its two variables, Magic and MountInfo, are test seams: tests anywhere
// in pq, the command-line tests' pq processes included, replace them to
// play a network file system without root or a server. Being internal,
// they are out of reach of programs outside pq.
package netfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Magic returns the f_type that statfs(2) reports for the file system
// that holds path; 0 where there is no such thing. Tests replace it.
var Magic = statfsMagic

// MountInfo is the mount table read to tell the type of a FUSE file
// system. Tests replace it.
var MountInfo = "/proc/self/mountinfo"

// fuseMagic is FUSE_SUPER_MAGIC, the f_type of every FUSE file system,
// local (fuse-overlayfs, ntfs-3g) or not (sshfs).
const fuseMagic = 0x65735546

// networkMagic names the file systems whose f_type alone says that they
// are network or cluster file systems: their files are shared by several
// hosts, or reach another machine's disk through a protocol that carries
// neither inotify events nor the local kernel's locks. The numbers are
// the kernel's (linux/magic.h) and, for the file systems outside it,
// those that GNU coreutils' stat(1) lists as remote.
var networkMagic = map[uint32]string{
	0x6969:     "nfs",
	0x517B:     "smb",
	0xFF534D42: "cifs",
	0xFE534D42: "smb2",
	0x00C36400: "ceph",
	0x5346414F: "afs",
	0x6B414653: "afs", // kAFS
	0x01021997: "9p",
	0x73757245: "coda",
	0x564C:     "ncp",
	0x0BD00BD0: "lustre",
	0x47504653: "gpfs",
	0x19830326: "beegfs",
	0x01161970: "gfs2",
	0x7461636F: "ocfs2",
	0xAAD7AAEA: "panfs",
	0xBEEFDEAD: "snfs", // StorNext
	0x786F4256: "vboxsf",
	0xBACBACBC: "vmhgfs",
}

// networkFUSE lists the FUSE file systems, by the subtype that follows
// "fuse." in their mount's type, that reach files over a network. Every
// other FUSE file system counts as local: fuse-overlayfs (rootless
// containers), lxcfs, bindfs, squashfuse, ntfs-3g ("fuseblk") and the
// like.
var networkFUSE = map[string]bool{
	"sshfs":         true,
	"glusterfs":     true,
	"s3fs":          true,
	"rclone":        true,
	"gcsfuse":       true,
	"juicefs":       true,
	"ceph":          true,
	"cephfs":        true,
	"ceph-fuse":     true,
	"goofys":        true,
	"geesefs":       true,
	"blobfuse":      true,
	"blobfuse2":     true,
	"mountpoint-s3": true,
	"ossfs":         true,
	"cosfs":         true,
	"curlftpfs":     true,
	"smbnetfs":      true,
	"mfs":           true, // MooseFS, LizardFS
	"seaweedfs":     true,
	"xtreemfs":      true,
}

// Detect returns the type of the file system that holds path, as Linux
// names it ("nfs", "cifs", "fuse.sshfs"), and whether it is a network
// file system. The type of a local file system other than FUSE is its
// magic number in hexadecimal. It costs one statfs(2), and for FUSE a
// read of the mount table. An error means the type could not be told.
func Detect(path string) (typ string, network bool, err error) {
	m, err := Magic(path)
	if err != nil {
		return "", false, fmt.Errorf("statfs %s: %w", path, err)
	}
	if m == fuseMagic {
		return fuseType(path)
	}
	if name, ok := networkMagic[m]; ok {
		return name, true, nil
	}
	return fmt.Sprintf("%#x", m), false, nil
}

// fuseType returns the type of the FUSE mount that holds path, from the
// mount table.
func fuseType(path string) (string, bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "fuse", false, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	f, err := os.Open(MountInfo)
	if err != nil {
		return "fuse", false, err
	}
	defer f.Close()
	typ, err := mountType(f, abs)
	if err != nil {
		return "fuse", false, fmt.Errorf("%s: %w", MountInfo, err)
	}
	sub, ok := strings.CutPrefix(typ, "fuse.")
	return typ, ok && networkFUSE[sub], nil
}

// mountType reads a mount table in the format of /proc/self/mountinfo
// and returns the type of the mount that holds path, an absolute path
// with no links: the one whose mount point is the longest prefix of
// path, the last listed among equals (a later mount on the same point
// hides the earlier). A FUSE mount of the old style, type "fuse" with a
// source "sshfs#host:dir", gets the type "fuse.sshfs".
func mountType(r io.Reader, path string) (string, error) {
	best, typ := -1, ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		point, fstype, source, ok := parseMount(sc.Text())
		if !ok || !under(path, point) || len(point) < best {
			continue
		}
		best, typ = len(point), fstype
		if prog, _, found := strings.Cut(source, "#"); found && fstype == "fuse" && prog != "" {
			typ = "fuse." + prog
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if best < 0 {
		return "", fmt.Errorf("no mount holds %s", path)
	}
	return typ, nil
}

// parseMount returns the mount point, type and source of a line of
// mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE
// SOURCE SUPEROPTIONS", with spaces, tabs, newlines and backslashes in
// fields escaped as \040, \011, \012 and \134.
func parseMount(line string) (point, fstype, source string, ok bool) {
	f := strings.Fields(line)
	if len(f) < 7 {
		return "", "", "", false
	}
	for i := 6; i+2 < len(f); i++ {
		if f[i] == "-" {
			return unescape(f[4]), unescape(f[i+1]), unescape(f[i+2]), true
		}
	}
	return "", "", "", false
}

// unescape decodes the octal escapes (\040) of a mountinfo field.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isOctal reports whether s is three octal digits of a byte's value.
func isOctal(s string) bool {
	return len(s) == 3 && s[0] >= '0' && s[0] <= '3' &&
		s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7'
}

// under reports whether path is point or lies below it.
func under(path, point string) bool {
	if point == "/" || path == point {
		return true
	}
	return strings.HasPrefix(path, point) && path[len(point)] == '/'
}
