// Package spool is a point-to-point message queue kept in a directory: a
// queue is a directory and a message is a file. Any number of processes may
// send to and receive from one queue at once; each message goes to exactly
// one receiver, oldest first, and survives crashes of the sender, the
// receiver and the machine.
//
// # Layout
//
// A spool root holds one directory per queue. A queue directory holds
//
//	tmp/   messages being written; never read by receivers
//	new/   messages ready to be claimed, in time buckets
//	cur/   messages claimed by a live receiver
//	dlq/   dead letters: messages that could not be processed
//
// A message file holds the body byte for byte and nothing else. Metadata
// lives in the file name: see [Name] and [ID]. Names are unique across
// processes and hosts and sort by send time.
//
// In new/, a message waits in a bucket directory named after its send time:
// new/SSSSSSS/sss/cc/NAME, where SSSSSSS is the Unix time in seconds divided
// by 1000, sss the remaining seconds and cc the hundredths of a second. No
// directory that a receiver lists grows with the depth of the queue, and
// receivers remove buckets they have drained, so a queue that once held a
// million messages costs no more to read than a new one. A plain file that
// another program renames straight into new/ is accepted as a message too.
// To see every ready message in order: find new -type f | sort.
//
// # Protocol
//
// Send ([Queue.Send], [Batch]): create tmp/ID with O_EXCL, write the body,
// fsync it, close it, rename it into its bucket in new/ without replacing
// anything (renameat2 RENAME_NOREPLACE, or link and unlink), fsync the
// bucket, and only then report the ID. A batch fsyncs its files together
// and each directory once; a large batch does both with syncfs(2) instead,
// once before its renames and once after.
//
// Claim ([Receiver.Claim]): open new/.../NAME, take a non-blocking flock on
// it, and rename it to cur/NAME. Of two receivers racing for one message,
// one fails to lock or finds the name gone and moves on. The claimer keeps
// the descriptor, and so the lock, for as long as it handles the message:
// the lock is the proof that the claimer is alive.
//
// Ack ([Queue.Ack]): unlink cur/NAME, fsync cur/, close the descriptor.
// Acks batch: one fsync of cur/ ends any number of claims.
//
// Release ([Claim.Release]), retry ([Claim.Retry]) and recovery
// ([Queue.Recover]): rename cur/NAME back into a bucket in new/. Release
// keeps the name, so the message keeps its place by send time. Retry and
// recovery raise the attempt count in the name; a retry with a backoff also
// records its due time there, and the message waits in the bucket of that
// time, hidden from receivers until then. Recovery takes every
// message in cur/ whose lock it can take: its claimer has died, since the
// kernel drops a lock with the last descriptor of its holder.
//
// # Crashes
//
// A crash while sending leaves at most a file in tmp/ (removed later by
// recovery of old tmp files) and never a partial message in new/; an ID that
// was reported is durable. A crash while a message is claimed leaves it in
// cur/, unlocked, and the next receiver puts it back: delivery is at least
// once, so a message handled but not yet acked when its receiver died is
// delivered again. A crash between an ack's unlink and its fsync can bring
// the message back the same way.
//
// # Concurrency
//
// A [Queue] is safe for concurrent use. A [Receiver] and a [Batch] belong to
// one goroutine each; use one per goroutine. Locks belong to open file
// descriptions, so receivers in one process exclude each other exactly as
// receivers in different processes do.
package spool
