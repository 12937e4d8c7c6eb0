package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Meta is what pq keeps about a message besides its body and its name, in
// the file .meta/ID of the queue directory, for a message whose name says
// m=1. The file is UTF-8 text, one "field: value" line each:
//
//	original-name: "job,x"
//	header: Content-Type=application/json
//	header: Customer=42
//	reply-queue: jobs
//	reply-id: 1764074682123456789.4242_9f3a0c1e.host
//
// original-name is Go-quoted; each header line holds KEY=VALUE as `pq send
// -H` takes it, in the order given; reply-queue and reply-id are the reply
// address of a request moved from another queue. `cat .meta/ID` shows it, and
// `sed -n 's/^header: //p' .meta/ID` lists the headers. Lines of fields
// that this version does not know are kept out of Meta and ignored. The
// file is written and made durable before the message is renamed into
// place, and removed after its ack, so a message is never visible without
// it.
type Meta struct {
	// OriginalName is the name the message's file had when pq found it in
	// new/ under a name it could not use as it was, and gave it an ID.
	OriginalName string
	// Headers are the message's headers, in the order they were given.
	Headers []Header
	// ReplyQueue and ReplyID, for a request moved from another queue
	// (see [Claim.MoveTo]), say where its reply goes: the reply place of
	// the request ReplyID in the queue ReplyQueue, where it was sent.
	ReplyQueue string
	ReplyID    ID
}

// encode returns m in the format of a metadata file.
func (m Meta) encode() []byte {
	var b strings.Builder
	if m.OriginalName != "" {
		fmt.Fprintf(&b, "original-name: %s\n", strconv.Quote(m.OriginalName))
	}
	for _, h := range m.Headers {
		fmt.Fprintf(&b, "header: %s=%s\n", h.Key, h.Value)
	}
	if m.ReplyQueue != "" {
		fmt.Fprintf(&b, "reply-queue: %s\nreply-id: %s\n", m.ReplyQueue, m.ReplyID)
	}
	return []byte(b.String())
}

// metaPath returns the path of the metadata file of id.
func (q *Queue) metaPath(id ID) string {
	return filepath.Join(q.dir, dirMeta, string(id))
}

// writeMeta stores m for id: written in tmp/, renamed into .meta/, and
// synced first and after when sync is set. The original name of an
// adopted file needs no sync: a crash that loses it loses only that name.
func (q *Queue) writeMeta(id ID, m Meta, sync bool) error {
	dir, err := q.ownDir(dirMeta)
	if err != nil {
		return fmt.Errorf("metadata of %s: %w", id, err)
	}
	tmp := filepath.Join(q.tmp, "."+string(id)+".meta")
	if err := q.writeFile(tmp, m.encode(), sync); err != nil {
		return fmt.Errorf("metadata of %s: %w", id, err)
	}
	if err := rename(tmp, q.metaPath(id)); err != nil {
		remove(tmp)
		return fmt.Errorf("metadata of %s: %w", id, err)
	}
	if sync {
		if err := q.sync(dir); err != nil {
			return fmt.Errorf("metadata of %s: %w", id, err)
		}
	}
	return nil
}

// writeFile creates path with data, synced when sync is set, unless the
// queue runs without syncs.
func (q *Queue) writeFile(path string, data []byte, sync bool) error {
	f, err := openFD(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = writerOf(f).Write(data)
	if err == nil && sync && !q.opts.NoSync {
		err = fsync("fsync", f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove(path)
	}
	return err
}

// replaceFile puts data at path, a file of pq's own in the queue
// directory, whole or not at all: written and synced at tmp (in tmp/),
// renamed over path, and the queue directory synced.
func (q *Queue) replaceFile(path, tmp string, data []byte) error {
	if err := q.writeFile(tmp, data, true); err != nil {
		return err
	}
	if err := rename(tmp, path); err != nil {
		remove(tmp)
		return err
	}
	return q.sync(q.dir)
}

// maxMetaFile bounds what is read of a metadata file: headers are at
// most 4 KiB, and encryption adds a few hundred bytes per recipient.
const maxMetaFile = 1 << 20

// readMeta reads the metadata of id; a missing file gives the zero Meta.
func (q *Queue) readMeta(id ID) (Meta, error) {
	f, err := os.Open(q.metaPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("metadata of %s: %w", id, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetaFile))
	if err != nil {
		return Meta{}, fmt.Errorf("metadata of %s: %w", id, err)
	}
	m, err := q.openMeta(data)
	if err != nil {
		return m, fmt.Errorf("metadata of %s: %w", id, err)
	}
	return m, nil
}

// decodeMeta reads a metadata file (see [Meta]); lines it does not know
// are left out. Lines end at '\n' alone: a header's value may end in '\r'.
func decodeMeta(r io.Reader) (Meta, error) {
	var m Meta
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return m, err
		}
		if line == "" && err != nil {
			return m, nil
		}
		field, val, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		switch field {
		case "original-name":
			if s, err := strconv.Unquote(val); err == nil {
				m.OriginalName = s
			}
		case "reply-queue":
			m.ReplyQueue = val
		case "reply-id":
			m.ReplyID = ID(val)
		case "header":
			if k, v, ok := strings.Cut(val, "="); ok {
				m.Headers = append(m.Headers, Header{Key: k, Value: v})
			}
		}
	}
}

// removeMeta removes the metadata file of id, if any.
func (q *Queue) removeMeta(id ID) {
	remove(q.metaPath(id))
}

// CleanMeta removes the metadata files, last written more than age ago,
// whose messages are nowhere in the queue: what a crash between an ack's
// two unlinks, or between writing a message's metadata and renaming the
// message, left behind. It returns the IDs whose files it removed.
func (q *Queue) CleanMeta(age time.Duration) ([]ID, error) {
	dir := filepath.Join(q.dir, dirMeta)
	var ls lister
	ents, err := ls.list(dir, "")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil // no metadata, or something else took the name
	}
	if err != nil {
		return nil, fmt.Errorf("clean %s/%s: %w", q.name, dirMeta, err)
	}
	cutoff := now().Add(-age)
	var removed []ID
	for _, e := range ents {
		fi, err := os.Lstat(filepath.Join(dir, e.name))
		if err != nil || !fi.ModTime().Before(cutoff) || q.holds(&ls, ID(e.name)) {
			continue
		}
		if remove(filepath.Join(dir, e.name)) == nil {
			removed = append(removed, ID(e.name))
		}
	}
	return removed, nil
}

// holds reports whether a message with the given ID is in the queue: in
// cur/ or dlq/, in the bucket of new/ where it would be, or in .due/.
func (q *Queue) holds(ls *lister, id ID) bool {
	dirs := []string{q.cur, q.dlq, filepath.Join(q.new, bucket(putBackTime(Name{ID: id, Priority: DefaultPriority})))}
	filepath.WalkDir(q.due, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for _, dir := range dirs {
		if dirHolds(ls, dir, id) {
			return true
		}
	}
	// A retried message waits in new/ in the bucket of its due time, which
	// its ID does not tell: look everywhere.
	found := false
	filepath.WalkDir(q.new, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && !found {
			found = dirHolds(ls, path, id)
		}
		return nil
	})
	return found
}

// dirHolds reports whether dir holds a message with the given ID.
func dirHolds(ls *lister, dir string, id ID) bool {
	ents, _ := ls.list(dir, "")
	for _, e := range ents {
		if strings.HasPrefix(e.name, string(id)) && ParseName(e.name).ID == id {
			return true
		}
	}
	return false
}
