package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pq/users"
)

// fakeUsers makes the package look names up in the passwd and group
// lines given, for the rest of the test.
func fakeUsers(t *testing.T, passwd, group string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "passwd"), []byte(passwd), 0o600)
	os.WriteFile(filepath.Join(dir, "group"), []byte(group), 0o600)
	saved := userTable
	userTable = &users.Table{Passwd: filepath.Join(dir, "passwd"), Group: filepath.Join(dir, "group")}
	t.Cleanup(func() { userTable = saved })
}

// The sender of a message is the owner of its file, as the kernel says.
func TestAClaimKnowsItsSenderFromTheKernel(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	q.Send(strings.NewReader("x"))
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Ack(c)
	if got, want := c.SenderUID(), uint32(os.Getuid()); got != want {
		t.Errorf("SenderUID() = %d, want %d", got, want)
	}
}

// A message from a sender the queue does not allow never reaches a
// consumer: it goes to the dead letters, saying why and who sent it,
// untried; the messages of allowed senders behind it are delivered.
func TestMessagesFromSendersNotAllowedAreDeadLettered(t *testing.T) {
	me := os.Getuid()
	fakeUsers(t, fmt.Sprintf("me:x:%d:%d::/:/bin/sh\nalice:x:54321:54321::/:/bin/sh\n", me, 4000),
		"web:x:4000:\nstaff:x:4001:alice\n")
	for _, tt := range []struct {
		allow     string
		delivered bool
	}{
		{"", true},
		{"me", true},
		{fmt.Sprint(me), true},
		{"alice, group:web", true}, // web is my primary group
		{"group:4000", true},
		{"alice", false},
		{"alice,group:staff", false},
	} {
		t.Run(tt.allow, func(t *testing.T) {
			q := newQueue(t, Options{NoSync: true})
			if tt.allow != "" {
				if err := q.Set(map[string]string{"allow_senders": tt.allow}); err != nil {
					t.Fatal(err)
				}
			}
			q.Send(strings.NewReader("x"))
			c, err := q.NewReceiver().Claim()
			if tt.delivered {
				if err != nil {
					t.Fatalf("claim: %v", err)
				}
				q.Ack(c)
				return
			}
			if !errors.Is(err, ErrEmpty) {
				t.Fatalf("claim: %v, %v; want ErrEmpty, the message refused", c, err)
			}
			dead, _ := q.DeadLetters()
			if len(dead) != 1 || dead[0].Reason.Cause != "sender not allowed (sent by me)" || dead[0].Name.Attempts != 0 {
				t.Fatalf("dead letters %+v, want the message, untried, cause 'sender not allowed (sent by me)'", dead)
			}
		})
	}
}

// An allow list that names nobody known stops receivers with a clear
// error rather than dead-lettering every message.
func TestAnAllowListOfUnknownNamesIsAnError(t *testing.T) {
	fakeUsers(t, "root:x:0:0::/:/bin/sh\n", "root:x:0:\n")
	q := newQueue(t, Options{NoSync: true})
	q.Set(map[string]string{"allow_senders": "mallory"})
	q.Send(strings.NewReader("x"))
	_, err := q.NewReceiver().Claim()
	if !errors.Is(err, users.ErrUnknown) || !strings.Contains(err.Error(), `"mallory"`) {
		t.Fatalf("claim: %v, want an error naming the unknown user", err)
	}
	if err := q.Set(map[string]string{"allow_senders": "a b"}); !errors.Is(err, ErrBadSetting) {
		t.Fatalf("Set(allow_senders = \"a b\"): %v, want ErrBadSetting", err)
	}
}
