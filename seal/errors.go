package seal

import "errors"

// ErrNoIdentity is returned when no identity was given for an encrypted
// queue, or when none of those given can open a file.
var ErrNoIdentity = errors.New("no identity matches")

// ErrWrongIdentity is returned when none of the identities given belongs to
// any of the recipients that a queue encrypts to.
var ErrWrongIdentity = errors.New("identity matches none of the queue's recipients")

// ErrCorrupt is returned when an encrypted file is not a well-formed age
// file or fails authentication: it was changed or cut short.
var ErrCorrupt = errors.New("encrypted file is corrupt")

// ErrBadRecipient is returned for a recipient that is not an age public key.
var ErrBadRecipient = errors.New("bad recipient")

// ErrNoRecipients is returned for an empty list of recipients.
var ErrNoRecipients = errors.New("no recipients")

// ErrBadIdentity is returned for an identity file that holds no usable
// age identity.
var ErrBadIdentity = errors.New("bad identity file")
