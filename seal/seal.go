package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// Magic begins every age file, and so every sealed file.
const Magic = "age-encryption.org/v1\n"

// maxListSize bounds a file of recipients or identities.
const maxListSize = 1 << 20

// Recipient is an age public key that files are encrypted to.
type Recipient struct {
	key string
	r   age.Recipient
}

// String returns the recipient's key as age prints it (age1...).
func (r Recipient) String() string { return r.key }

// ParseRecipient parses one age public key: age1... (X25519) or
// age1pq1... (post-quantum hybrid).
func ParseRecipient(s string) (Recipient, error) {
	s = strings.TrimSpace(s)
	var (
		r   age.Recipient
		err error
	)
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		r, err = age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1"):
		r, err = age.ParseX25519Recipient(s)
	default:
		err = errors.New("not an age public key (age1...)")
	}
	if err != nil {
		return Recipient{}, fmt.Errorf("%w %q: %v", ErrBadRecipient, short(s), err)
	}
	return Recipient{key: s, r: r}, nil
}

// short cuts s for an error message; a recipient is public, but a secret
// key pasted by mistake should not be printed whole.
func short(s string) string {
	if strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY") {
		return "AGE-SECRET-KEY-..."
	}
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// ParseRecipientList reads recipients one per line, as age's recipients
// files hold them: empty lines and lines starting with '#' are ignored,
// as is white space around a key.
func ParseRecipientList(r io.Reader) ([]Recipient, error) {
	var rs []Recipient
	sc := bufio.NewScanner(io.LimitReader(r, maxListSize))
	sc.Buffer(nil, maxListSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rec, err := ParseRecipient(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rs = append(rs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, ErrNoRecipients
	}
	return rs, nil
}

// ParseRecipients parses each of args as a recipient, or, when it starts
// with '@', as the name of a file of recipients (see ParseRecipientList).
// Duplicates are dropped.
func ParseRecipients(args []string) ([]Recipient, error) {
	var rs []Recipient
	seen := map[string]bool{}
	for _, a := range args {
		var got []Recipient
		if name, ok := strings.CutPrefix(a, "@"); ok {
			f, err := os.Open(name)
			if err != nil {
				return nil, fmt.Errorf("recipients: %w", err)
			}
			got, err = ParseRecipientList(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("recipients file %s: %w", name, err)
			}
		} else {
			r, err := ParseRecipient(a)
			if err != nil {
				return nil, err
			}
			got = []Recipient{r}
		}
		for _, r := range got {
			if !seen[r.key] {
				seen[r.key] = true
				rs = append(rs, r)
			}
		}
	}
	if len(rs) == 0 {
		return nil, ErrNoRecipients
	}
	return rs, nil
}

// FormatRecipients returns rs as a recipients file, which
// ParseRecipientList reads back and `age -R` takes.
func FormatRecipients(rs []Recipient) []byte {
	var b bytes.Buffer
	b.WriteString("# age recipients of this queue: pq encrypts every message to each\n")
	for _, r := range rs {
		b.WriteString(r.key + "\n")
	}
	return b.Bytes()
}

// Identities are age secret keys, read from an identity file.
type Identities struct {
	ids  []age.Identity
	keys map[string]bool // the recipients of ids
}

// LoadIdentities reads the identity file at path.
func LoadIdentities(path string) (*Identities, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	ids, err := ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return ids, nil
}

// ParseIdentities reads an age identity file: AGE-SECRET-KEY-1... (or
// AGE-SECRET-KEY-PQ-1...) lines, empty lines and '#' comments.
func ParseIdentities(r io.Reader) (*Identities, error) {
	ids, err := age.ParseIdentities(io.LimitReader(r, maxListSize))
	if err != nil {
		// age's message never holds key material.
		return nil, fmt.Errorf("%w: %v", ErrBadIdentity, err)
	}
	out := &Identities{ids: ids, keys: map[string]bool{}}
	for _, id := range ids {
		switch k := id.(type) {
		case *age.X25519Identity:
			out.keys[k.Recipient().String()] = true
		case *age.HybridIdentity:
			out.keys[k.Recipient().String()] = true
		}
	}
	return out, nil
}

// Matches returns nil when one of ids belongs to one of rs, and
// ErrWrongIdentity otherwise; ErrNoIdentity when ids is nil.
func (ids *Identities) Matches(rs []Recipient) error {
	if ids == nil {
		return ErrNoIdentity
	}
	for _, r := range rs {
		if ids.keys[r.key] {
			return nil
		}
	}
	return ErrWrongIdentity
}

// Encrypt returns a writer that encrypts what is written to it to every one
// of rs and writes it to w as an age file, which Close completes.
func Encrypt(w io.Writer, rs []Recipient) (io.WriteCloser, error) {
	if len(rs) == 0 {
		return nil, ErrNoRecipients
	}
	ars := make([]age.Recipient, len(rs))
	for i, r := range rs {
		ars[i] = r.r
	}
	return age.Encrypt(w, ars...)
}

// Seal returns data encrypted to rs as an age file.
func Seal(data []byte, rs []Recipient) ([]byte, error) {
	var b bytes.Buffer
	w, err := Encrypt(&b, rs)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Decrypt returns a reader of the plaintext of the age file read from r.
// It fails with ErrNoIdentity when none of ids can open the file and
// ErrCorrupt when its header is bad; the reader fails with ErrCorrupt at
// a chunk that fails authentication. Errors of r itself pass through.
func Decrypt(r io.Reader, ids *Identities) (io.Reader, error) {
	if ids == nil {
		return nil, ErrNoIdentity
	}
	src := &watchReader{r: r}
	pr, err := age.Decrypt(src, ids.ids...)
	if err != nil {
		return nil, classify(err, src.err)
	}
	return &plainReader{r: pr, src: &src.err}, nil
}

// DecryptFile returns a reader of the plaintext of the age file of size
// bytes in ra, as Decrypt does, and the plaintext's size, which it
// reckons from the sizes of the file and of its header. A file cut short
// or grown reads to an error matching ErrCorrupt.
func DecryptFile(ra io.ReaderAt, size int64, ids *Identities) (io.Reader, int64, error) {
	if ids == nil {
		return nil, 0, ErrNoIdentity
	}
	src := &watchReader{r: io.NewSectionReader(ra, 0, size)}
	hdr, err := age.ExtractHeader(src)
	if err != nil {
		return nil, 0, classify(err, src.err)
	}
	n, err := plainSize(size - int64(len(hdr)))
	if err != nil {
		return nil, 0, err
	}
	r, err := Decrypt(io.NewSectionReader(ra, 0, size), ids)
	return r, n, err
}

// Sizes of age's payload: a nonce, then chunks of up to chunkSize bytes
// of plaintext, each followed by its tag.
const (
	nonceSize = 16
	chunkSize = 64 << 10
	tagSize   = 16
)

// plainSize returns the plaintext's size of a payload of n bytes.
func plainSize(n int64) (int64, error) {
	n -= nonceSize
	if n < tagSize {
		return 0, fmt.Errorf("%w: payload of %d bytes", ErrCorrupt, n)
	}
	chunks := (n + chunkSize + tagSize - 1) / (chunkSize + tagSize)
	last := n - (chunks-1)*(chunkSize+tagSize)
	if last < tagSize || last == tagSize && chunks > 1 {
		return 0, fmt.Errorf("%w: payload of %d bytes", ErrCorrupt, n)
	}
	return n - chunks*tagSize, nil
}

// Open decrypts a small age file held whole in data.
func Open(data []byte, ids *Identities) ([]byte, error) {
	r, err := Decrypt(bytes.NewReader(data), ids)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// Sealed reports whether data begins as an age file does.
func Sealed(data []byte) bool { return bytes.HasPrefix(data, []byte(Magic)) }

// classify maps an error of age to ErrNoIdentity or ErrCorrupt, unless
// the source itself failed (srcErr), whose error is returned.
func classify(err, srcErr error) error {
	var nm *age.NoIdentityMatchError
	switch {
	case srcErr != nil:
		return srcErr
	case errors.As(err, &nm):
		return fmt.Errorf("%w: %v", ErrNoIdentity, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: cut short", ErrCorrupt)
	default:
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
}

// watchReader remembers the first error of r other than io.EOF.
type watchReader struct {
	r   io.Reader
	err error
}

func (w *watchReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF && w.err == nil {
		w.err = err
	}
	return n, err
}

// plainReader turns age's errors while reading into ErrCorrupt.
type plainReader struct {
	r   io.Reader
	src *error
}

func (p *plainReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = classify(err, *p.src)
	}
	return n, err
}
