package spool

import (
	"fmt"
	"strings"

	"pq/users"
)

// A message's sender is the owner of its file: the kernel sets it when
// the file is made, and no sender can claim another's (only root can give
// a file away). pq's renames keep it, so a message that another program
// renamed into new/ counts as sent by the owner of that file, and a
// message moved between queues by pq mv as sent by the user who moved it,
// whose file it is then.

// groupPrefix marks an entry of an allow list that names a group.
const groupPrefix = "group:"

// splitSenders splits the value of an allow_senders setting, names
// separated by commas.
func splitSenders(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// CheckSenders reports an entry of an allow list that is not a valid
// sender (see ValidSender).
func CheckSenders(list []string) error {
	for _, s := range list {
		if !ValidSender(s) {
			return fmt.Errorf("%w: allow_senders: %q is not a user name or uid, nor group:NAME or group:GID", ErrBadSetting, s)
		}
	}
	return nil
}

// ValidSender reports whether s can be an entry of an allow list: a user
// name or uid, or group:NAME or group:GID; not empty, and without commas,
// other colons or white space. Whether the names exist is checked when a
// receiver starts.
func ValidSender(s string) bool {
	name := strings.TrimPrefix(s, groupPrefix)
	return name != "" && !strings.ContainsAny(name, ",: \t\n")
}

// senders is an allow list with its names resolved.
type senders struct {
	uids map[uint32]bool
	gids []uint32
	t    *users.Table
}

// resolveSenders resolves the names of an allow list; nil for an empty
// list, which allows anyone.
func resolveSenders(list []string, t *users.Table) (*senders, error) {
	if len(list) == 0 {
		return nil, nil
	}
	s := &senders{uids: map[uint32]bool{}, t: t}
	for _, e := range list {
		if g, ok := strings.CutPrefix(e, groupPrefix); ok {
			gid, err := t.GID(g)
			if err != nil {
				return nil, fmt.Errorf("allow_senders: %w", err)
			}
			s.gids = append(s.gids, gid)
			continue
		}
		uid, err := t.UID(e)
		if err != nil {
			return nil, fmt.Errorf("allow_senders: %w", err)
		}
		s.uids[uid] = true
	}
	return s, nil
}

// allows reports whether the user uid may send; a nil list allows anyone.
func (s *senders) allows(uid uint32) bool {
	if s == nil || s.uids[uid] {
		return true
	}
	for _, gid := range s.gids {
		if s.t.InGroup(uid, gid) {
			return true
		}
	}
	return false
}

// SenderName returns the name of the user uid, or uid as a number when
// the system's user file does not list it.
func SenderName(uid uint32) string { return userTable.Name(uid) }

// userTable is where names of users and groups are looked up; tests
// replace it.
var userTable = users.System

// causeSenderNotAllowed is the cause recorded for a message dead-lettered
// because its sender is not on the queue's allow list.
const causeSenderNotAllowed = "sender not allowed"

// refuse dead-letters a claimed message whose sender the queue does not
// allow, and reports whether it did. A message that cannot be moved away
// is put back and left for recovery: it is never delivered.
func (r *Receiver) refuse(c *Claim) bool {
	if r.senders.allows(c.uid) {
		return false
	}
	reason := Reason{Cause: fmt.Sprintf("%s (sent by %s)", causeSenderNotAllowed, SenderName(c.uid)), Untried: true}
	if err := c.DeadLetter(reason); err != nil {
		r.q.log.Warn("cannot dead-letter a message from a sender not allowed", "id", c.name.ID, "err", err)
	}
	return true
}

// loadSenders resolves the queue's allow list of senders (see
// Settings.AllowSenders), once per receiver.
func (r *Receiver) loadSenders() error {
	s, err := r.q.Settings()
	if err != nil {
		return err
	}
	if r.senders, err = resolveSenders(s.AllowSenders, userTable); err != nil {
		return fmt.Errorf("queue %s: %w", r.q.name, err)
	}
	return nil
}
