package spool

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTheQueuesTTLAppliesToMessagesSentWithoutOne(t *testing.T) {
	t0 := time.Now()
	setClock(t, t0)
	q := newQueue(t, Options{})
	if err := q.Set(map[string]string{"ttl": "1m"}); err != nil {
		t.Fatal(err)
	}
	q.Send(strings.NewReader("queue ttl"))
	q.SendWith(strings.NewReader("own ttl"), SendOptions{Expires: t0.Add(time.Hour)})
	setClock(t, t0.Add(2*time.Minute))
	if got := receiveBody(t, q.NewReceiver()); got != "own ttl" {
		t.Fatalf("got %q, want the message whose own ttl is longer", got)
	}
	if dead, _ := q.DeadLetters(); len(dead) != 1 || dead[0].Reason.Cause != CauseExpired {
		t.Fatalf("dead letters %+v, want the expired one", dead)
	}
}

func TestOnExpiryDropDeletesExpiredMessages(t *testing.T) {
	t0 := time.Now()
	setClock(t, t0)
	q := newQueue(t, Options{})
	if err := q.Set(map[string]string{"on_expiry": ExpiryDrop}); err != nil {
		t.Fatal(err)
	}
	q.SendWith(strings.NewReader("x"), SendOptions{Expires: t0.Add(time.Second)})
	setClock(t, t0.Add(time.Minute))
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, want ErrEmpty", err)
	}
	if s, _ := q.Stat(); s != (Stats{}) {
		t.Fatalf("Stat() = %+v, want nothing left", s)
	}
}

func TestSettingsAreCheckedAndKept(t *testing.T) {
	q := newQueue(t, Options{})
	for _, kv := range []map[string]string{{"ttl": "5"}, {"ttl": "-1s"}, {"on_expiry": "keep"}, {"colour": "red"}} {
		if err := q.Set(kv); !errors.Is(err, ErrBadSetting) {
			t.Errorf("Set(%v) = %v, want ErrBadSetting", kv, err)
		}
	}
	if err := q.Set(map[string]string{"ttl": "90s"}); err != nil {
		t.Fatal(err)
	}
	if err := q.Set(map[string]string{"on_expiry": "drop"}); err != nil {
		t.Fatal(err)
	}
	s, err := q.Settings()
	if err != nil || !reflect.DeepEqual(s, Settings{TTL: 90 * time.Second, OnExpiry: ExpiryDrop}) {
		t.Fatalf("Settings() = %+v, %v", s, err)
	}
	b, _ := os.ReadFile(filepath.Join(q.Dir(), settingsName))
	if string(b) != "on_expiry = \"drop\"\nttl = \"90s\"\n" {
		t.Fatalf(".settings holds %q", b)
	}
	os.WriteFile(filepath.Join(q.Dir(), settingsName), []byte("ttl = 90s\n"), 0o600)
	if _, err := q.Settings(); !errors.Is(err, ErrBadSetting) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("Settings() of a bad file: %v", err)
	}
}

// Settings from a configuration file fill what the queue's own file does
// not say, and a ttl there can only shorten the queue's.
func TestAConfigurationNeverLoosensTheQueuesSettings(t *testing.T) {
	root := t.TempDir()
	cfg := Settings{TTL: time.Hour, OnExpiry: ExpiryDrop}
	q, _ := Open(root, "jobs", Options{Settings: cfg})
	q.Create()
	for _, tt := range []struct {
		file map[string]string
		want Settings
	}{
		{nil, cfg},
		{map[string]string{"ttl": "1m"}, Settings{TTL: time.Minute, OnExpiry: ExpiryDrop}},
		{map[string]string{"ttl": "2h"}, Settings{TTL: time.Hour, OnExpiry: ExpiryDrop}}, // the shorter
		{map[string]string{"ttl": "0s", "on_expiry": ExpiryDeadLetter}, Settings{TTL: time.Hour, OnExpiry: ExpiryDeadLetter}},
	} {
		if tt.file != nil {
			if err := q.Set(tt.file); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := q.Settings(); err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("after Set(%v): Settings() = %+v, %v; want %+v", tt.file, got, err, tt.want)
		}
	}
}
