// Package seal encrypts message bodies and metadata for pq's encrypted
// queues with age (filippo.io/age): each sealed file is a standard age
// file, which `age -d -i KEY < FILE` opens.
//
// Recipients are age public keys (age1..., X25519, or age1pq1...,
// post-quantum hybrid) given one by one or as @FILE, a file of one key per
// line in which empty lines and lines starting with '#' are ignored (the
// format of age's own recipients files). Identities are read from an age
// identity file (AGE-SECRET-KEY-1... lines, as age-keygen writes them).
//
// Encryption and decryption stream: age cuts a payload into chunks of
// 64 KiB, each authenticated on its own, so memory does not grow with the
// size of a body. A reader of a body that was changed on disk gets
// [ErrCorrupt] at the first chunk that fails, having read the chunks
// before it; a body of at most one chunk is authenticated whole before its
// first byte is read.
//
// Recipients and Identities are safe for concurrent use; a reader or
// writer belongs to one goroutine.
package seal
