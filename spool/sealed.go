package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"pq/seal"
)

// recipientsName is the file of pq's own that makes a queue encrypted: the
// age recipients that every message's body and headers are encrypted to,
// one per line, as `age -R` reads them.
const recipientsName = ".recipients"

// sealFormat is the format of an encrypted queue: a pq from before
// encryption refuses it rather than deliver ciphertext as bodies.
const sealFormat = 5

// CauseCannotDecrypt is the cause recorded for a message of an encrypted
// queue that the receiver's identity, though it belongs to one of the
// queue's recipients, cannot open: corrupt, or encrypted to an old key.
const CauseCannotDecrypt = "cannot decrypt"

// EncryptTo makes q an encrypted queue whose messages are encrypted to
// rs from then on, replacing the recipients it had. It raises the queue's
// format first, then writes .recipients durably (in tmp/, fsync, rename,
// fsync of the queue directory): a crash in between leaves a queue of
// the new format that is not encrypted yet, never the reverse. Messages
// already in the queue stay as they were sent.
func (q *Queue) EncryptTo(rs []seal.Recipient) error {
	if len(rs) == 0 {
		return fmt.Errorf("queue %s: %w", q.name, seal.ErrNoRecipients)
	}
	if err := q.raiseFormat(sealFormat); err != nil {
		return err
	}
	tmp := filepath.Join(q.tmp, fmt.Sprintf(".recipients-%d-%d", os.Getpid(), rand.Uint32()))
	if err := q.replaceFile(filepath.Join(q.dir, recipientsName), tmp, seal.FormatRecipients(rs)); err != nil {
		return fmt.Errorf("queue %s: store recipients: %w", q.name, err)
	}
	return nil
}

// Recipients returns the recipients an encrypted queue encrypts to, and
// none for a queue that is not encrypted.
func (q *Queue) Recipients() ([]seal.Recipient, error) {
	b, err := readFile(filepath.Join(q.dir, recipientsName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue %s: recipients: %w", q.name, err)
	}
	rs, err := seal.ParseRecipientList(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("queue %s: %s: %w", q.name, recipientsName, err)
	}
	return rs, nil
}

// CheckIdentity returns nil for a queue that is not encrypted, and for an
// encrypted one whose recipients include one of the identities in
// Options.Identities; otherwise an error matching seal.ErrNoIdentity (none
// given) or seal.ErrWrongIdentity. Receivers check it before they claim
// anything.
func (q *Queue) CheckIdentity() error {
	rs, err := q.Recipients()
	if err != nil || rs == nil {
		return err
	}
	if err := q.opts.Identities.Matches(rs); err != nil {
		return fmt.Errorf("queue %s is encrypted: %w", q.name, err)
	}
	return nil
}

// OpenPlain returns a reader of the body of the message file f, of size
// bytes, and the body's size: the file itself in a queue that is not
// encrypted, its plaintext in one that is (see seal.DecryptFile for the
// errors).
func (q *Queue) OpenPlain(f *os.File, size int64, sealed bool) (io.Reader, int64, error) {
	if !sealed {
		return io.NewSectionReader(f, 0, size), size, nil
	}
	return seal.DecryptFile(f, size, q.opts.Identities)
}

// sealWriter is where a sender writes a body: straight to its file, or
// through encryption to the queue's recipients. It counts the bytes that
// reach the file.
type sealWriter struct {
	file io.Writer
	n    int64
}

func (w *sealWriter) Write(p []byte) (int, error) {
	n, err := w.file.Write(p)
	w.n += int64(n)
	return n, err
}

// writeBody copies body to f, encrypted to rs unless rs is empty, and
// returns the bytes written to f.
func writeBody(f io.Writer, body io.Reader, rs []seal.Recipient) (int64, error) {
	if len(rs) == 0 {
		return io.Copy(f, body)
	}
	cw := &sealWriter{file: f}
	w, err := seal.Encrypt(cw, rs)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, body); err != nil {
		return cw.n, err
	}
	err = w.Close()
	return cw.n, err
}

// sealMeta returns the metadata file's content: m encoded, and encrypted
// to rs unless rs is empty.
func sealMeta(m Meta, rs []seal.Recipient) ([]byte, error) {
	if len(rs) == 0 {
		return m.encode(), nil
	}
	return seal.Seal(m.encode(), rs)
}

// openMeta returns the decoded content of a metadata file, decrypting it
// when it is sealed. Without identities, a sealed file reads as no
// metadata at all, so that listings work without the key.
func (q *Queue) openMeta(data []byte) (Meta, error) {
	if !seal.Sealed(data) {
		return decodeMeta(bytes.NewReader(data))
	}
	if q.opts.Identities == nil {
		return Meta{}, nil
	}
	plain, err := seal.Open(data, q.opts.Identities)
	if err != nil {
		return Meta{}, err
	}
	return decodeMeta(bytes.NewReader(plain))
}

// firstChunk reads and so authenticates the first chunk of plaintext from
// r, of size bytes (a whole body of up to 64 KiB, which most are), and
// returns a reader of all of it.
func firstChunk(r io.Reader, size int64) (io.Reader, error) {
	buf := make([]byte, min(size, 64<<10)+1)
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return bytes.NewReader(buf[:n]), nil
	}
	if err != nil {
		return nil, err
	}
	return io.MultiReader(bytes.NewReader(buf), r), nil
}

// loadSeal reads whether the queue is encrypted, and refuses to go on
// without an identity of one of its recipients. A receiver reads it at
// each walk until it finds the queue encrypted, which a queue stays.
func (r *Receiver) loadSeal() error {
	rs, err := r.q.Recipients()
	if err != nil {
		return err
	}
	if rs == nil {
		return nil
	}
	if err := r.q.opts.Identities.Matches(rs); err != nil {
		return fmt.Errorf("queue %s is encrypted: %w", r.q.name, err)
	}
	r.sealed = true
	return nil
}

// unseal opens a claimed message of an encrypted queue: its body's header
// and last chunk, and its headers. A message that the receiver's identity
// cannot open goes to the dead-letter queue with the cause "cannot
// decrypt", counting no attempt, and unseal reports true: the queue goes
// on. Any other error (of the disk) puts the message back.
func (r *Receiver) unseal(c *Claim) (bool, error) {
	if !r.sealed {
		return false, nil
	}
	p, n, err := r.q.OpenPlain(c.f, c.size, true)
	if err == nil && c.name.Meta {
		_, err = r.q.readMeta(c.name.ID)
	}
	if err == nil {
		p, err = firstChunk(p, n)
	}
	if err == nil {
		c.plain, c.plainSize, c.sealed = p, n, true
		return false, nil
	}
	if !errors.Is(err, seal.ErrCorrupt) && !errors.Is(err, seal.ErrNoIdentity) {
		c.Release()
		return false, fmt.Errorf("open message %s: %w", c.name.ID, err)
	}
	r.q.log.Warn("cannot decrypt a message: moved to the dead-letter queue", "id", c.name.ID, "err", err)
	if err := c.DeadLetter(Reason{Cause: CauseCannotDecrypt, Untried: true}); err != nil {
		r.q.log.Warn("cannot dead-letter a message that cannot be decrypted", "id", c.name.ID, "err", err)
	}
	return true, nil
}
