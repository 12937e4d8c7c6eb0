// Package spool is a point-to-point message queue kept in a directory: a
// queue is a directory and a message is a file. Any number of processes may
// send to and receive from one queue at once; each message goes to exactly
// one receiver, the highest priority first and oldest first within a
// priority, and survives crashes of the sender, the
// receiver and the machine.
//
// # Layout
//
// A spool root holds one directory per queue. A queue directory holds
//
//	tmp/          messages being written; never read by receivers
//	new/          messages ready to be claimed, in time buckets: priority 4
//	new/pP/       likewise, of priority P (0 to 9 but 4)
//	cur/          messages claimed by a live receiver
//	dlq/          dead letters: messages that could not be processed
//	.due/         delayed messages (a retry's backoff), in buckets of their due time
//	.meta/        metadata files of the messages whose names say m=1
//	.quarantine/  what was found where no message can be, moved aside
//	.replies/     reply places of the requests whose requesters wait: .replies/ID/
//	.dedup/       entries of dedup ids, in buckets of their messages' send time
//	.moving/      messages being moved to another queue: .moving/QUEUE2/NAME
//	.settings     the queue's own settings, written by its owner (see [Settings])
//	.count        messages and bytes, kept while the queue has a capacity limit (see countName)
//	inbox/        a drop box's arrivals, from the members of its group (see [Queue.Drop])
//	.paused       present while the queue is paused (see Pause below)
//	.lock         the commit lock, holding the last name given and doorbells
//	.groups/      one file per message group: its lock, and what goes next
//	.slots/       empty lock files 0 to N-1 that cap the jobs on the queue (see [Slots])
//	.recipients   the age public keys of an encrypted queue (see Encryption below)
//	.format       the version of this layout: "pq queue format 1" to 5
//
// A queue is its owner's alone (directories 0700, files 0600) unless it
// is shared with a Unix group (see [Queue.Share]): its directories then
// have the group's bits and setgid, and pq makes every new file and
// directory in them with the group's read and write whatever the umask.
// A drop box (ShareSend) has an inbox/ that the group may write but not
// list, and that receivers empty into the queue (see [Queue.Drop]).
//
// Names that begin with a dot are pq's own, as in maildir: no message
// ever has one, stray handling leaves them alone, and counting the files
// under new/ and .due/ whose names do not begin with a dot counts the
// messages waiting. A pq that finds a format newer than [Format] refuses
// the queue ([ErrFormat]) rather than take entries it does not know for
// strays; a queue without .format has format 1, the first tree of a
// priority raises it to 2, the first atomic batch to 3, the first
// message of a group to 4 and encrypting the queue to 5.
//
// A message file holds the body byte for byte and nothing else. Metadata
// lives in the file name: see [Name] and [ID]; what does not fit there
// lives in .meta/ID (see [Meta]). Names are unique across processes and
// hosts and sort by send time.
//
// In new/, a message waits in a bucket directory: new/SSSSSSS/sss/cc/NAME,
// where SSSSSSS is the Unix time in seconds divided by 1000, sss the
// remaining seconds and cc the hundredths of a second. No directory that a
// receiver lists grows with the depth of the queue, and receivers remove
// buckets they have drained, so a queue that once held a million messages
// costs no more to read than a new one. A drained bucket is removed once
// no sender fills it any more: when its span ends before the bucket of
// the last commit (recorded in .lock: commits under the commit lock never
// go to an earlier bucket), or two seconds after its span ended. Everything in new/ is ready: a
// receiver takes it in bucket and name order whatever time the bucket
// says, so a send time in the future never holds a message back. Only a
// due time does: delayed messages wait in .due/, in the bucket of their
// due time, and a receiver lists only the buckets of .due/ whose time has
// come (and the first one whose time has not, to know when to look again),
// so they cost it nothing until they are due.
//
// Each priority has such a tree of buckets: the default priority,
// [DefaultPriority], new/ itself, so that a queue from before priorities
// reads as it is, and any other priority P new/pP, made by the first
// message of that priority and removed by a receiver that finds it
// without buckets. A receiver walks the trees from the highest priority
// down. To see the ready messages of priority 9 in order:
// find new/p9 -type f | sort.
//
// # Protocol
//
// Send ([Queue.Send], [Batch]): create tmp/X with O_EXCL, write the body,
// fsync it, close it; take the commit lock (.lock, flock), name the message
// (its ID: the clock, or just after the last name given when the clock is
// behind it), rename it into the bucket of that time (never of a time later
// than now, nor earlier than the last message's) in new/ without replacing
// anything (renameat2 RENAME_NOREPLACE, or link and unlink), and release
// the lock; fsync the bucket and its parents up to new/, and only then
// report the ID. A batch fsyncs its files together and each directory
// once; a large batch does both with syncfs(2) instead, once before its
// renames and once after, on a descriptor opened before its first file was
// written, so that it reports every write-back error of the batch. A
// message with headers ([SendOptions]) has its metadata file written and
// synced in tmp/ with its body; under the commit lock, once named, the
// file is renamed to .meta/ID and .meta/ is synced before the message is
// renamed into new/ as ID,m=1: a message is never visible without its
// headers.
//
// Groups ([SendOptions] Group): a receiver claims a message of group KEY
// only with a non-blocking flock on .groups/KEY, which it holds until the
// claim ends, and only if that file names the message, or nothing, as
// the one to go next (a claimed message no longer in cur/, or a put-back
// one past its time and nowhere in the queue, no longer counts). The
// claim records the message there; an ack or a dead letter clears it; a
// release, a retry (fsynced when it backs off) and recovery record the
// message with the time until which it holds its group before they put it
// back. A receiver that passes by a message of a group passes by the rest
// of the group until it walks again from the top of the tree, so that a
// group's messages go one at a time and in order within a priority.
//
// Atomic batch ([Queue.NewAtomicBatch]): the files are written into a
// directory of the batch's own, tmp/.atomic-X/, and made durable (syncfs
// for a large batch); under the commit lock each is named and renamed to
// its name within that directory, the directory is fsynced and renamed
// into the bucket of the first message's time as ID,b=N (N messages; see
// [Name]), where it sorts as its first message would; after the lock,
// the bucket and its parents are fsynced. That one rename makes the whole
// batch visible at once. A receiver walks into such a directory as into a
// bucket and removes it once drained; a delayed batch waits whole in
// .due/ and moves whole. A sender that dies before the rename leaves the
// directory in tmp/, which [Queue.CleanTmp] removes.
//
// Priorities: the lock file also holds two doorbells per priority (see
// lockSize): the send time of the last message committed at it, written
// after the rename, and a count of messages put back into new/ at it.
// A Receiver reads them with one pread before each claim; when a doorbell
// of a priority higher than the one it is walking rang, or the put-back
// doorbell of that one, it walks again from the highest priority, so that
// it takes such a message at its next claim.
//
// Because names are given at commit, under the lock, messages become
// visible in the order of their names, across all senders, and no message
// goes into a bucket earlier than one that already exists. A receiver
// reads each directory in one system call, which the kernel serves as a
// snapshot, and when a later bucket appears it looks once more into the
// one it has just left. So every receiver takes each sender's messages in
// the order they were sent. A sender that cannot take the lock within
// commitLockWait (its holder is stopped, say) commits without it, and only
// the order of that batch against other senders' is at risk.
//
// Deduplication ([SendOptions.DedupID], [Queue.SendDedup]): a send of one
// message may carry a dedup id, any bytes up to [MaxDedupID]. Its entry
// is .dedup/SSSSSSS/H, where H is the first 32 hex digits of the SHA-256
// of the id and SSSSSSS the send time of the message it stands for in
// seconds divided by 1000, as at the top of new/; the file holds two
// lines, that message's ID and the name its file had in tmp/. Everything
// happens in the commit, under the commit lock, which a send with a dedup
// id never goes without ([ErrDedupLock]), so that of any number of
// senders of one id exactly one makes a message:
//
//  1. Look up the id in every bucket that the queue's dedup window
//     (Settings.DedupWindow) covers, newest first: two opens a bucket,
//     one or two buckets for the default window of five minutes, never a
//     listing. An entry H
//     whose message was sent inside the window makes the send a
//     duplicate: it reports that ID and makes nothing. A pending entry,
//     .pending-H, is settled first (below).
//  2. Name the message; fsync tmp/, so that the message's file there is
//     durable; write .dedup/S/.pending-H (O_EXCL, write, fsync) and fsync
//     its directory (and .dedup/ and the queue directory, when the bucket
//     or .dedup/ is new).
//  3. Rename the message into new/ (or .due/) as any send does, and fsync
//     its directories, still under the lock.
//  4. Rename .pending-H to H, without an fsync, and release the lock.
//
// A pending entry found under the commit lock was left by a sender that
// died (or failed) between steps 2 and 4. Its message was placed if and
// only if the file the entry names is gone from tmp/ (or has a second
// name: a crash inside the link-and-unlink fallback), since a rename out
// of tmp/ is the only way it leaves: then the entry is renamed to H and
// the send is a duplicate, whether the message is still in the queue or
// was received and acked since. Otherwise the message was never placed,
// and the entry and the dead sender's file are removed, so that the retry
// makes the message: a key never swallows a message that was lost. A
// pending entry cut short by a crash in step 2 holds no valid ID and is
// removed likewise. A crash of the machine that undoes step 4 leaves a
// pending entry that settles the same way. The evidence holds for as long
// as recovery leaves a dead sender's file in tmp/ (36 hours), which is why
// the window is at most [MaxDedupWindow]. No receiver takes part: acks
// and every other move are unchanged. One case escapes this, and only
// where renameat2(RENAME_NOREPLACE) is missing: a sender that dies
// between the link and the unlink of its message's file, whose message
// is then received and acked before the next send with its id, leaves
// tmp/ holding the file under one name again, and that send makes a
// second message.
//
// Expired entries go without a scan per send: a sender that makes a new
// bucket (once in a thousand seconds) renames every bucket whose entries
// are all older than its window to .dedup/.old-..., and removes it;
// [Queue.CleanDedup] (pq recover) removes what a crash left of that, and
// pending entries older than the window. The window is the queue's
// setting, applied by each sender: where senders' configurations differ
// and the queue's .settings says nothing, each uses its own.
//
// Claim ([Receiver.Claim]): open new/.../NAME (never blocking, never
// following a link, refusing anything but a regular file), take a
// non-blocking flock on it, check that the name still refers to the file
// locked (device and inode), and rename it to cur/NAME; then check cur/NAME
// likewise, and put back a file that another program renamed over the name
// in between. Of two receivers racing for one message, one fails to lock
// or finds the name gone and moves on. The claimer keeps the descriptor,
// and so the lock, for as long as it handles the message: the lock is the
// proof that the claimer is alive.
//
// Ack ([Queue.Ack]): unlink cur/NAME (and .meta/ID), fsync cur/, close the
// descriptor. Acks batch: one fsync of cur/ ends any number of claims.
//
// Release ([Claim.Release]), retry ([Claim.Retry]) and recovery
// ([Queue.Recover]): rename cur/NAME back into a bucket of new/: the bucket
// of its send time, so that it keeps its place, or of now if its send time
// is later. Retry and recovery raise the attempt count in the name; a
// retry with a backoff records its due time there (d=T) and goes to the
// bucket of T in .due/ instead. A receiver moves a message from .due/ to
// the bucket of its due time in new/ once T has passed, by its own clock:
// so a receiver whose clock runs ahead of the retrying worker's shortens
// the backoff by that much, and no more. Recovery takes every message in
// cur/ whose lock it can take: its claimer has died, since the kernel
// drops a lock with the last descriptor of its holder. It checks, as a
// claim does, that the name it locked is the file it renames.
//
// Dead letter ([Claim.DeadLetter]): rename the message into dlq/, then
// write dlq/ID.reason (in tmp/, fsync, rename), then fsync dlq/.
//
// Request and reply ([Queue.Request], [Queue.Reply]): a request is a
// message whose name says r=1. Before its commit the requester makes a
// reply place, .replies/.new-X, opens it and takes a flock on it, which it
// holds for as long as it waits: the lock proves the requester alive, as a
// claim's lock does. At the commit, under the commit lock, once the
// request has its ID and before it is renamed into new/, the place is
// renamed to .replies/ID: a request is never visible without its reply
// place. A request is sent without fsyncs: it matters only while its
// requester waits, which a crash of the machine ends. A replier writes
// .replies/ID/.tmp-X, fsyncs it, renames it to .replies/ID/reply without
// replacing one (the first reply stands: [ErrReplied]) and fsyncs the
// place; a reply whose place is missing or unlocked goes nowhere
// ([ErrNoRequester]). The requester, woken by inotify on its place (and a
// poll every second), opens reply, removes the place (renamed to a dot
// name, then removed with what it holds) and reads the reply from the open
// file. A request dead-lettered ([Claim.DeadLetter]: a worker's last
// failure, a poison message, expiry) has its reason written to
// .replies/ID/dead, as to dlq/ID.reason, and its requester fails at once
// ([ErrDeadLettered]); so does one dropped as expired (on_expiry = drop). A requester that gives up ([Request.Withdraw])
// removes its place, and removes the request if it still waits where it
// was sent. A receiver that claims a request whose place is missing or
// unlocked (withdrawn, or its requester died) acks it without delivering
// it, so a withdrawn request is never delivered afterwards. A redriven
// request ([Queue.Redrive]) loses r=1 and becomes an ordinary message: its
// requester has already failed. [Queue.CleanReplies] removes the places
// whose locks it can take, and dot leftovers older than an hour.
//
// Move ([Claim.MoveTo], [Claim.NewOutput] and [Output.Commit]): a claimed
// message of queue Q1 becomes a new message of queue Q2 exactly once,
// atomically with the end of its claim, in four steps. (1) Stage: the
// output, a second name of the message's own file for MoveTo or the
// handler's output for an Output, is put into Q2's tmp/ as
// .move-Q1+ID, a name made from the input alone, with its headers beside
// it in .move-Q1+ID.meta; the file and tmp/ are fsynced. Another attempt
// at the same input stages over the same names. (2) Intent: the input,
// still locked by its claimer (the lock goes with the file through
// renames), is renamed from cur/NAME to .moving/Q2/NAME, which is
// fsynced. (3) Handover: under Q2's commit lock, as a send's commit, the
// staged file is given an ID and renamed into new/ (its metadata linked to
// .meta/ID first), and the directories are fsynced: that one rename takes
// it out of staging, so "the staged file is gone" means "handed over".
// (4) Done: [Queue.Ack] unlinks .moving/Q2/NAME; no fsync is needed, since
// a lost unlink only makes recovery do it again. The new message keeps the
// input's priority, group, time to live and headers, and has no attempts; a
// request moved stays a request (r=1) whose reply address, the reply
// place of the original request, goes in its metadata (see [Meta] and
// [Claim.ReplyTo]): its claimers, repliers and dead letters use that
// place.
//
// Recovery of moves ([Queue.RecoverMoves], which [Queue.Recover] runs
// first): a message in .moving/Q2/ whose lock can be taken has lost its
// mover. If its output is still staged in Q2's tmp/, recovery does steps 3
// and 4; if not, the mover handed it over before it died, and recovery
// does step 4 only. That test never looks for the output in Q2, where a
// consumer may have taken and acked it already. A mover that dies before
// its intent leaves its input in cur/, recovered as any dead claim, and a
// stale staged output that is never handed over by itself: the next
// attempt stages over it, and [Queue.CleanTmp] removes it once old, unless
// its input is in cur/ or .moving/ of its queue. A live mover whose
// handover fails puts its input back into cur/ before it removes the
// staged output.
//
// Pause ([Queue.Pause], [Queue.Resume]): a queue is paused while its
// directory holds .paused, whatever that is. [Receiver.Claim] looks for
// it (one lstat) before each claim, and on a paused queue claims nothing
// and returns an error matching both ErrEmpty and ErrPaused, so that a
// receiver that waits for messages waits for the resume too. Pause
// writes tmp/.paused-X (O_EXCL), fsyncs it, renames it to .paused and
// fsyncs the queue directory; Resume unlinks .paused, fsyncs the queue
// directory and touches new/, which wakes the waiting receivers through
// their inotify watch (those that poll see it within a second). A crash
// leaves the queue paused or not, never with half a .paused; a crash
// inside Pause may leave tmp/.paused-X, which [Queue.CleanTmp] removes.
// Claims held when the pause comes are not touched, and a claim that a
// receiver began before it may complete. The pause does not raise the
// format: a pq from before pauses ignores .paused and keeps receiving from
// a paused queue, which loses nothing, whereas a raised format would make
// it refuse the queue for sending as well, for good.
//
// Deleting messages ([Queue.Remove], [Queue.Purge]): a message in new/,
// .due/ or cur/ is opened (never blocking, never following a link) and
// locked without waiting, as a claim does; a lock held by another means a
// live consumer holds the message, or is claiming it, and it is left
// alone ([ErrHeld]). Holding the lock, the deleter checks that the name
// still refers to the file locked, unlinks it, then unlinks .meta/ID, and
// only then releases the lock: a receiver that opened the file meanwhile
// fails to lock it or finds its name gone. A dead letter, which nobody
// locks, loses dlq/ID.reason first, then its file, so that no reason is
// left without its letter. The directories unlinked from are fsynced
// after the unlinks, before the deletion is reported; then the messages
// and bytes deleted (dead letters aside) are taken from .count, where the
// queue keeps counts. A deleted message
// that its group's file names as the one to go next is cleared from it,
// so that the group does not wait for it.
//
// Deleting a queue ([Queue.Delete]): pause it, refuse if a live consumer
// holds a claim in cur/ or .moving/ (unless forced), rename the queue
// directory to .delete-NAME-X in the spool root, fsync the root, remove
// the renamed tree. The rename makes the whole queue vanish at once; a
// crash after it leaves .delete-NAME-X, a name that is no queue's, which
// the next Delete in that root removes ([CleanDeleted]).
//
// Expiry: a message sent with a time to live carries x=T in its name. A
// receiver that meets it in new/ at or after T claims it and dead-letters
// it with the cause "expired", counting no attempt, instead of delivering
// it, or deletes it when the queue's settings say on_expiry = "drop"; a
// redrive drops x. A message sent without a time to live of its own gets
// the queue's ttl setting, counted from when it is due.
//
// # Encryption
//
// An encrypted queue ([Queue.EncryptTo]) has .recipients, age public keys
// one a line (what `age -R` reads). Making a queue encrypted raises its
// format to 5 first, then writes .recipients in tmp/, fsyncs it, renames
// it into place and fsyncs the queue directory: a crash in between leaves
// a queue of format 5 that is not encrypted, never recipients that a pq
// from before encryption would ignore, delivering ciphertext as bodies.
//
// A sender reads .recipients once per batch. It writes each body through
// age into its file in tmp/, so that no plaintext reaches the disk, and
// its headers, encoded as in [Meta], as an age file of their own into its
// metadata file; the rest of the protocol is unchanged, and so is every
// name: a message file and its metadata file are each a standard age
// file. Counts and capacity limits count the files' bytes, ciphertext.
//
// A [Receiver] of an encrypted queue needs Options.Identities, one of
// which belongs to a recipient: it refuses to claim anything otherwise
// (seal.ErrNoIdentity, seal.ErrWrongIdentity). Once it has claimed a
// message it opens it: it unwraps the file key, reads and so
// authenticates the first 64 KiB chunk of the body (the whole of most
// bodies), and decrypts the metadata. A message that it cannot open goes
// to the dead-letter queue with the cause "cannot decrypt"
// ([CauseCannotDecrypt]), counting no attempt, and the receiver goes on
// to the next; a redrive puts it back as it is. [Claim.Body] then streams
// the plaintext, each later chunk authenticated as it is read: a chunk
// that fails makes the read fail with an error matching seal.ErrCorrupt,
// after the chunks before it. Listings, [Queue.Stat] and everything that
// moves messages by name work without a key; metadata that cannot be
// decrypted for want of identities reads as none.
//
// # Strays, foreign files and reused names
//
// The spool is shared with other programs and people, so anything may
// appear in it. A regular file that another program renames into new/, at
// any depth and under any name, is a message: the first time pq meets it
// it gets its place, and, if its name is not one pq can use as it is (see
// [Name]: an ID made by pq, well-formed fields, at most 200 bytes), a
// fresh ID at the end of the queue, its original name kept in .meta/ID
// ([DeadLetter.Original] shows it). Anything that is not a regular file
// where a message may be, and any directory where a bucket may be that is
// not one, is moved aside into .quarantine/ unopened, reported once in
// the log, and listed by [Queue.Strays]: a named pipe, a link or a stray
// directory never blocks a receiver or stops a queue.
//
// Programs that put files into new/ must use names of their own that no
// other message has: a rename over an existing name replaces that
// message, which is then lost, as mv always does. A claim never delivers
// the replaced file's body for the new one's, nor the reverse.
//
// Where the filesystem lacks renameat2(RENAME_NOREPLACE), a move is a link
// and an unlink; a crash between them leaves one message under two names.
// A claimer or a recoverer that holds a file's lock and finds it has more
// than one name drops the stale one, so the message is delivered once.
//
// # Crashes
//
// A crash while sending leaves at most a file in tmp/ (removed later by
// recovery of old tmp files) and never a partial message in new/; an ID that
// was reported is durable. A send that fails after some of its batch's
// renames leaves those messages in the queue though their IDs were not
// reported: on failure, delivery is at least once. A crash while a message
// is claimed leaves it in cur/, unlocked, and the next receiver puts it
// back: delivery is at least once, so a message handled but not yet acked
// when its receiver died is delivered again. A crash between an ack's
// unlink and its fsync can bring the message back the same way. A crash
// while sending with a dedup id leaves at most a pending entry in
// .dedup/, which the next send with that id settles (see Deduplication
// above). Promoting
// a delayed message, adopting a foreign file and moving a stray aside are
// single renames: a crash leaves the entry where it was or where it went.
//
// A mover killed at any step leaves its message in exactly one of the two
// queues once recovery has run: see Move above.
//
// A requester that dies leaves its reply place unlocked: the request is
// dropped by the receiver that claims it, a reply that comes is discarded
// or lands in the place, and [Queue.CleanReplies] removes the place. A
// replier that dies while writing leaves at most .replies/ID/.tmp-X, which
// the requester never reads: a requester gets a whole reply or none.
//
// # Concurrency
//
// A [Queue] is safe for concurrent use. A [Receiver] and a [Batch] belong to
// one goroutine each; use one per goroutine. Locks belong to open file
// descriptions, so receivers in one process exclude each other exactly as
// receivers in different processes do.
//
// All of this holds among the processes of one host. A queue on a network
// file system is refused by receivers ([Queue.CheckNetworkFS],
// [ErrNetworkFS]) unless [Options.AllowNetworkFS] says that one host alone
// receives; senders may write to it from any host.
package spool
