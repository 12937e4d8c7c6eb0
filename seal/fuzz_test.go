package seal

import (
	"bytes"
	"testing"
)

// FuzzParseRecipientList checks that any recipients file either fails or
// gives keys that format and parse back to themselves.
func FuzzParseRecipientList(f *testing.F) {
	f.Add([]byte("# c\nage1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"))
	f.Add([]byte("\n\n#\nage1\n"))
	f.Add([]byte("AGE-SECRET-KEY-1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRecipientList(bytes.NewReader(data))
		if err != nil {
			return
		}
		back, err := ParseRecipientList(bytes.NewReader(FormatRecipients(rs)))
		if err != nil || len(back) != len(rs) {
			t.Fatalf("formatted list does not parse back: %v", err)
		}
		for i := range rs {
			if back[i].String() != rs[i].String() {
				t.Fatalf("key %d: %q became %q", i, rs[i], back[i])
			}
		}
	})
}
