// Package jetstream is pq's NATS JetStream backend: the queues of a NATS
// account, for producers and workers on many hosts, behind the same
// [queue.Backend] interface as a spool directory.
//
// # Connecting
//
// [Dial] takes a comma-separated list of nats:// or tls:// URLs and
// [Options]. Credentials come only from a creds file (Options.CredsFile):
// a URL with a user, a password or a token is refused (ErrURLCredentials),
// since URLs show in ps and in shell histories. Dial refuses a server
// older than [MinServerVersion] (ErrOldServer): 2.12.3 and 2.12.4 lost
// messages that reached their delivery limit on replicated work-queue
// streams. Errors of this package may come with advice for the user: see
// [Hint].
//
// # The mapping
//
// A queue called NAME is:
//
//   - a stream PQ_<E> on the subject pq.<E>, with work-queue retention and
//     file storage, whose duplicates window is the queue's dedup window;
//   - one durable pull consumer of it, called "pq", with explicit acks,
//     shared by every receiver on every host;
//   - a dead-letter stream PQDLQ_<E> on pqdlq.<E> (limits retention: dead
//     letters stay until removed);
//   - a stream PQADV_<E> that captures the server's max-deliveries
//     advisories about the consumer ($JS.EVENT.ADVISORY.CONSUMER.
//     MAX_DELIVERIES.PQ_<E>.pq), with a durable consumer "pq" of its own.
//
// <E> is NAME with each '.' written as '~' ([Encode]): a stream name and a
// subject token cannot hold a '.', and no queue name holds a '~', so the
// encoding is undone by [Decode] and keeps the name's length (a stream
// name has at most 255 bytes). "jobs.high" is the stream PQ_jobs~high on
// pq.jobs~high.
//
// [Backend.Init] (pq init) creates these, or updates them to its
// [InitOptions], and owns their configuration: replicas, the ack wait, the
// consumer's delivery limit, the dedup window. A queue's first send
// creates a queue that does not exist with [DefaultInitOptions] (one
// replica), as a spool queue is created by its first message, and changes
// nothing of one that does. Receivers only bind to the consumer, never
// create nor change it, so that receivers with different flags never
// rewrite each other's consumer; a receiver of a queue that does not exist
// gets an error matching queue.ErrNoQueue, with a hint to run pq init.
//
// A message's ID is its sequence in the queue's stream, in decimal. Its
// headers are NATS headers; since those are a map, a Pq-Keys header keeps
// their order, and marks the values that NATS would not carry as they are
// (a space or tab at either end, a carriage return), which are quoted. A
// user's keys never begin with "pq-" or "nats-". Message.DedupID is the Nats-Msg-Id header: a
// second send with it within the window stores nothing and returns the
// first message's ID. Message.Expires is the Pq-Expires header: a receiver
// that meets a message past it dead-letters it, untried, with the cause
// "expired".
//
// A claim is a delivery of the consumer (a pull of one message): its
// Attempt is the server's delivery count. It lives for the consumer's ack
// wait; [Claim.Extend] sends InProgress, which restarts it, and
// [Claim.ExtendEvery] is a third of it. [Claim.Ack] is a double ack,
// confirmed by the server. [Claim.Retry] is NakWithDelay with pq's own
// delay (the consumer's BackOff list does not apply to naks, and a bare nak
// burns the attempts in milliseconds). [Claim.Release] is a nak without
// delay. [Claim.DeadLetter] publishes the message to the dead-letter
// stream, body and headers, with the reason as headers (Pq-Cause,
// Pq-Attempts, Pq-Time, Pq-Stderr in base64, Pq-Untried, and Pq-Id, its ID
// in the queue), waits for the stream to store it, and then terminates the
// delivery. Each settlement waits for the server's answer, and is tried
// again while no server answers (a consumer leader going down).
//
// Workers decide when a message is dead-lettered, from its attempt count
// against their own --max-attempts; the consumer's delivery limit
// (InitOptions.MaxDeliver, 1000 by default) stays above any of them. A
// message whose worker was killed on its last delivery is left in a
// work-queue stream by the server, by design, and never delivered again;
// the server publishes an advisory when a receiver next pulls from the
// consumer after that delivery's ack wait. The advisory stream keeps it,
// and [Queue.Sweep], which receivers call now and then, moves the message
// to the dead-letter stream with the cause "too many attempts" and deletes
// it from the queue's stream. Dead letters are published with a
// Nats-Msg-Id made of the message's sequence and store time, so that two
// sweepers, or a claimer that died between its dead letter and its term
// and the next claimer, make one dead letter.
//
// A work-queue stream allows no second consumer to browse it, so
// [Queue.Messages], [Queue.Peek] and [Queue.Dead] read messages by
// sequence with direct gets, one request each. [Queue.Stat] reads the
// consumer's and the dead-letter stream's info.
//
// # Differences from a spool
//
// Where JetStream cannot keep a promise of the spool exactly:
//
//	| what | spool | NATS JetStream |
//	|---|---|---|
//	| a claim lives | as long as the claimer's process | for the ack wait (30 s by default, set at pq init) after the claim or the last renewal; pq renews it every third of that while a command runs, so a claimer stopped longer (SIGSTOP, a network partition) loses it to another |
//	| attempts count | the deliveries that ended in a failure | every delivery: a put-back at shutdown (Release) and a delivery lost with its receiver count too, since the server cannot take one back |
//	| a worker killed on its last attempt | recovery dead-letters the message | the next receiver sweeps it to the dead-letter stream, once the server gives up on it (after the ack wait, at the next pull) |
//	| --priority, -g/--group, --delay, --at | yes | refused, exit 2 |
//	| --ttl | dead-lettered as expired, or dropped (on_expiry) | dead-lettered as expired when a receiver meets it; on_expiry is not read |
//	| message ID | send time, process and host | the stream sequence number |
//	| message size | any | the server's max_payload (1 MiB by default), headers included; a larger message is refused (ErrTooBig), never split |
//	| dedup window | dedup_window of the queue's settings | the stream's duplicates window, set by pq init (5 min by default) |
//	| pq stat | ready, delayed, claimed, dead | delayed is always 0: a message backing off after a retry counts as claimed, as does one whose claimer died, until its ack wait ends |
//	| pq ls / pq peek | a directory listing | one request per message, in sequence order; ready or inflight by where the consumer's deliveries had got to |
//	| an acknowledged send survives | a power cut (fsync before rename) | a power cut only with sync_interval: always, or on a majority of three replicas (see below) |
//	| a missing queue | created by its first message | created by its first message with one replica; pq init sets replicas and the rest |
//
// # Durability
//
// A send returns once the stream has stored the message, and an ack once
// the consumer has recorded it. On one server that is not a promise to
// survive a power cut: JetStream's file store syncs to disk every two
// minutes by default, so an acknowledged send can be lost with the
// machine. Run the servers with `sync_interval: always` in their jetstream
// block, or give the queue three replicas (set at pq init) so that
// each message is stored by a majority of three servers before its send
// returns; pq stat warns about a queue whose stream has one replica
// ([Queue.Replicas]).
//
// # Concurrency
//
// A [Backend] and its [Queue]s are safe for concurrent use. A [Receiver]
// is used by one goroutine at a time; its claims may be settled from any
// goroutine.
package jetstream
