// Command agefloor measures what filippo.io/age itself takes to encrypt,
// or to decrypt, messages as separate age files, in one process, so that
// bench/encrypt.sh can state the cost of pq's encryption as a ratio to it.
//
//	agefloor -mode keygen -dir DIR        write DIR/key (an identity) and
//	                                      DIR/recipient
//	agefloor -mode encrypt -dir DIR -n N  encrypt N bodies of -size bytes
//	                                      to DIR/recipient, each into a file
//	                                      of its own in DIR/files (create,
//	                                      write, close; no fsync)
//	agefloor -mode decrypt -dir DIR       decrypt every file of DIR/files
//	                                      with DIR/key, reading each whole
//
// The encrypt and decrypt modes print one line: the seconds taken, then
// the number of messages.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
)

func main() {
	mode := flag.String("mode", "", "keygen, encrypt or decrypt")
	dir := flag.String("dir", "", "working directory")
	n := flag.Int("n", 100000, "messages to encrypt")
	size := flag.Int("size", 100, "body size in bytes")
	flag.Parse()
	var err error
	switch *mode {
	case "keygen":
		err = keygen(*dir)
	case "encrypt":
		err = encrypt(*dir, *n, *size)
	case "decrypt":
		err = decrypt(*dir)
	default:
		err = fmt.Errorf("usage: agefloor -mode keygen|encrypt|decrypt -dir DIR [-n N] [-size BYTES]")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agefloor:", err)
		os.Exit(1)
	}
}

func keygen(dir string) error {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte(id.String()+"\n"), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "recipient"), []byte(id.Recipient().String()+"\n"), 0o600)
}

func encrypt(dir string, n, size int) error {
	b, err := os.ReadFile(filepath.Join(dir, "recipient"))
	if err != nil {
		return err
	}
	r, err := age.ParseX25519Recipient(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "files")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	body := bytes.Repeat([]byte("x"), size)
	start := time.Now()
	for i := range n {
		f, err := os.OpenFile(filepath.Join(out, fmt.Sprintf("m%07d", i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		w, err := age.Encrypt(f, r)
		if err == nil {
			_, err = w.Write(body)
		}
		if err == nil {
			err = w.Close()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	fmt.Printf("%.6f %d\n", time.Since(start).Seconds(), n)
	return nil
}

func decrypt(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil {
		return err
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		return err
	}
	in := filepath.Join(dir, "files")
	ents, err := os.ReadDir(in)
	if err != nil {
		return err
	}
	start := time.Now()
	for _, e := range ents {
		f, err := os.Open(filepath.Join(in, e.Name()))
		if err != nil {
			return err
		}
		r, err := age.Decrypt(f, ids...)
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	fmt.Printf("%.6f %d\n", time.Since(start).Seconds(), len(ents))
	return nil
}
