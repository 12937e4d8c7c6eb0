package spool

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// dropStaleNames removes the other names of a claimed file that has more
// than one. Only the link-and-unlink fallback for filesystems without
// renameat2(RENAME_NOREPLACE) leaves them, when a crash falls between its
// link and its unlink: the file is then both where a move took it and
// where it came from, and the old name would deliver it a second time.
// The claimer holds the file's lock, so no live process is using any of
// its names: every name but the claim's is stale. They are looked for
// where such a move can start: tmp/ (a send), cur/ (a put-back or a dead
// letter), dlq/ (a retry of a dead letter) and .due/ (a promotion).
func (q *Queue) dropStaleNames(c *Claim, st *syscall.Stat_t) {
	left := int(st.Nlink) - 1
	var ls lister
	for _, dir := range []string{q.tmp, q.cur, q.dlq} {
		left -= q.dropLinks(&ls, dir, c.path, st)
		if left <= 0 {
			return
		}
	}
	filepath.WalkDir(q.due, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && left > 0 {
			left -= q.dropLinks(&ls, path, c.path, st)
		}
		return nil
	})
}

// dropLinks removes the names in dir, other than keep, of the file st
// describes, and returns how many it removed.
func (q *Queue) dropLinks(ls *lister, dir, keep string, st *syscall.Stat_t) int {
	ents, err := ls.list(dir, "")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		path := filepath.Join(dir, e.name)
		if path == keep || (e.ino != 0 && e.ino != st.Ino) || !namesFile(path, st) {
			continue
		}
		if remove(path) == nil {
			q.log.Warn("removed a stale second name of a message", "path", path)
			n++
		}
	}
	return n
}

// staleInCur reports whether the file st describes, found in cur/ with more
// than one name and no live claimer, is also in dlq/ or in new/: a crash
// of the link-and-unlink fallback in the middle of a dead-lettering, a
// put-back or a claim. Its name in cur/ is then the one to drop.
func (q *Queue) staleInCur(n Name, st *syscall.Stat_t) bool {
	var ls lister
	dirs := []string{q.dlq, filepath.Join(q.tree(n.Priority), bucket(putBackTime(n)))}
	if sent, ok := idNanos(string(n.ID)); ok {
		dirs = append(dirs, filepath.Join(q.tree(n.Priority), bucket(sent)))
	}
	for _, dir := range dirs {
		ents, err := ls.list(dir, "")
		if err != nil {
			continue
		}
		for _, e := range ents {
			if (e.ino == 0 || e.ino == st.Ino) && namesFile(filepath.Join(dir, e.name), st) {
				return true
			}
		}
	}
	return false
}
