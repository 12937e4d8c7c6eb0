package seal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// newKey returns a fresh identity file's text and its recipient.
func newKey(t *testing.T) (string, string) {
	t.Helper()
	k, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return "# created: test\n# public key: " + k.Recipient().String() + "\n" + k.String() + "\n", k.Recipient().String()
}

func TestRoundTrip(t *testing.T) {
	key, pub := newKey(t)
	ids, err := ParseIdentities(strings.NewReader(key))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRecipients([]string{pub})
	if err != nil {
		t.Fatal(err)
	}
	if err := ids.Matches(rs); err != nil {
		t.Fatalf("Matches: %v", err)
	}
	for _, size := range []int{0, 1, 64 << 10, 64<<10 + 1, 200 << 10} {
		body := bytes.Repeat([]byte("x"), size)
		var ct bytes.Buffer
		w, err := Encrypt(&ct, rs)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !Sealed(ct.Bytes()) {
			t.Fatalf("size %d: no age header", size)
		}
		r, err := Decrypt(bytes.NewReader(ct.Bytes()), ids)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("size %d: Decrypt gave %d bytes, %v", size, len(got), err)
		}
		fr, n, err := DecryptFile(bytes.NewReader(ct.Bytes()), int64(ct.Len()), ids)
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(fr)
		if n != int64(size) || err != nil || !bytes.Equal(got, body) {
			t.Fatalf("DecryptFile: size %d, %d bytes, %v; want %d", n, len(got), err, size)
		}
	}
}

func TestErrors(t *testing.T) {
	key, pub := newKey(t)
	other, otherPub := newKey(t)
	ids, _ := ParseIdentities(strings.NewReader(key))
	wrong, _ := ParseIdentities(strings.NewReader(other))
	rs, _ := ParseRecipients([]string{pub})
	ors, _ := ParseRecipients([]string{otherPub})
	if err := wrong.Matches(rs); !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("Matches with another key: %v", err)
	}
	if err := (*Identities)(nil).Matches(rs); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("Matches without identities: %v", err)
	}
	body := bytes.Repeat([]byte("secret"), 30000) // 3 chunks
	ct, err := Seal(body, rs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ct, wrong); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("open with a wrong key: %v", err)
	}
	if _, err := Open([]byte("not age at all"), ids); !errors.Is(err, ErrCorrupt) {
		t.Errorf("open garbage: %v", err)
	}
	if _, err := Open(ct[:len(ct)-10], ids); !errors.Is(err, ErrCorrupt) {
		t.Errorf("open cut short: %v", err)
	}
	// A flipped byte in the middle chunk: the first chunk reads, then
	// ErrCorrupt.
	bad := bytes.Clone(ct)
	bad[len(bad)-70000] ^= 1
	r, err := Decrypt(bytes.NewReader(bad), ids)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, ErrCorrupt) || n == 0 || n >= int64(len(body)) {
		t.Errorf("flipped byte: read %d then %v", n, err)
	}
	fr, _, err := DecryptFile(bytes.NewReader(bad), int64(len(bad)), ids)
	if err == nil {
		_, err = io.Copy(io.Discard, fr)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped byte through DecryptFile: %v", err)
	}
	// Sealed to two recipients: either opens it.
	both, _ := Seal([]byte("hi"), append(rs, ors...))
	if _, err := Open(both, wrong); err != nil {
		t.Errorf("second recipient: %v", err)
	}
	// A failing source is reported as itself, not as corruption.
	boom := errors.New("boom")
	if _, err := Decrypt(io.MultiReader(bytes.NewReader(ct[:20]), errReader{boom}), ids); !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
		t.Errorf("failing source: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestParseRecipients(t *testing.T) {
	_, a := newKey(t)
	_, b := newKey(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "keys.txt")
	os.WriteFile(list, []byte("# team\n\n  "+b+"  \n"+a+"\n"), 0o600)
	rs, err := ParseRecipients([]string{a, "@" + list})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].String() != a || rs[1].String() != b {
		t.Fatalf("got %v, want [%s %s] without the duplicate", rs, a, b)
	}
	back, err := ParseRecipientList(bytes.NewReader(FormatRecipients(rs)))
	if err != nil || len(back) != 2 {
		t.Fatalf("FormatRecipients does not read back: %v %v", back, err)
	}
	// The key with its last character changed, which breaks its checksum.
	last := "q"
	if strings.HasSuffix(a, "q") {
		last = "p"
	}
	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"none", nil, ErrNoRecipients},
		{"garbage", []string{"hello"}, ErrBadRecipient},
		{"secret key", []string{"AGE-SECRET-KEY-1QQQ"}, ErrBadRecipient},
		{"bad checksum", []string{a[:len(a)-1] + last}, ErrBadRecipient},
		{"missing file", []string{"@" + filepath.Join(dir, "nope")}, os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRecipients(tc.args); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o600)
	if _, err := ParseRecipients([]string{"@" + empty}); !errors.Is(err, ErrNoRecipients) {
		t.Errorf("empty file: %v", err)
	}
}

func TestLoadIdentities(t *testing.T) {
	key, pub := newKey(t)
	path := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(path, []byte(key), 0o600)
	ids, err := LoadIdentities(path)
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := ParseRecipients([]string{pub})
	if ids.Matches(rs) != nil {
		t.Error("identity does not match its own recipient")
	}
	os.WriteFile(path, []byte(pub+"\n"), 0o600)
	if _, err := LoadIdentities(path); !errors.Is(err, ErrBadIdentity) {
		t.Errorf("a public key as identity: %v", err)
	} else if strings.Contains(err.Error(), "AGE-SECRET") {
		t.Errorf("error shows key material: %v", err)
	}
}
