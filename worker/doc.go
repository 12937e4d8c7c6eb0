// Package worker runs a handler once per message of a pq queue: the loop
// behind pq recv --exec, for Go programs. It runs over any [queue.Queue]:
// a spool's ([spool.Queue.Queue]) or one on NATS JetStream. A claim that
// lapses unless renewed ([queue.Extender]) is renewed while its handler
// runs. What only a spool has (requests and replies, moves to another
// queue, a claim's file and descriptor, slots across processes) is there
// when the queue is a spool's.
//
// A [Handler] gets each claimed [Message] and returns nil to ack it or an
// error for a failed attempt. [Command] is the Handler that runs a shell
// command line per message, as pq recv --exec does. [Run] (or [New] and
// [Worker.Run]) claims messages oldest first, runs up to Options.Jobs
// handlers at once, and settles each message by its handler's result:
//
//	nil                           acked; acks are committed in groups, one fsync each
//	ErrPermanent (see Permanent)  dead-lettered at once
//	ErrCannotRun                  put back untouched; the worker stops with the error
//	any other error, or a timeout retried after a backoff, dead-lettered after MaxAttempts
//
// # Logs, counts and limits
//
// Options.Logger gets one record per message settled, with structured keys
// (queue, id, attempt, duration, outcome, cause, backoff), and one per
// claim at level Debug; Options.Settled gets the same as a [Result], for
// counts and progress. Options.MaxTime stops claiming after a while,
// letting running handlers finish. Options.Slots ([spool.Slots]) caps the
// handlers running on a queue across processes: a slot is taken before
// each claim and released once the handler returned; the kernel frees the
// slots of a worker that dies.
//
// # Shutdown
//
// When Run's context is done the worker stops claiming and gives running
// handlers Options.Grace to finish. Then, or at once on [Worker.Interrupt]
// (a second signal), it cancels their contexts: a [Command] sends SIGTERM
// to its process group, and SIGKILL 3 seconds later if the group is still
// there. A message whose handler was stopped so goes back untouched, with
// no attempt counted. A handler that succeeded is acked even if it was being
// stopped, or ran past its timeout, as it finished: its work is done.
//
// A signal sent to a whole control group, as systemd stops a service by
// default, reaches the commands together with the worker and may kill them
// before the worker sees it. A handler error that is [ErrInterrupted] (a
// command killed by SIGTERM or SIGINT, or a shell exiting 143 or 130) puts
// its message back untouched when the worker is shutting down or starts
// to within 250 ms after the error; otherwise it is a failed attempt.
//
// # Requests
//
// A message sent with [spool.Queue.Request] is a request ([Message.Request]):
// its sender waits for a reply. A Handler answers it with
// [spool.Queue.Reply] before it returns; a [Command]'s stdout is the reply,
// committed before the request is acked, and discarded when the command
// fails. A waiting worker removes, at most once a minute when it is idle,
// the reply places of requesters that died ([spool.Queue.CleanReplies]).
//
// # Poison messages
//
// A message claimed with Options.MaxAttempts failed attempts or more is
// dead-lettered with the cause "too many attempts" without being handled.
// Such a message typically killed its worker, or the machine, on every
// attempt, each time coming back through recovery with one more attempt
// counted.
//
// # Crashes
//
// A worker that dies loses nothing: each claim is a locked descriptor, and
// recovery puts a dead worker's claims back with one more attempt counted
// (see package spool). A Command's stdin is that descriptor, so an orphaned
// command keeps its claim for as long as it runs.
//
// # Concurrency
//
// A Worker runs once. Handlers run in goroutines of their own, up to
// Options.Jobs at a time; each message goes to one handler. Any number of
// workers, in any number of processes, may serve one queue.
package worker
