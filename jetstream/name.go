package jetstream

import (
	"fmt"
	"strings"

	"pq/queue"
)

// The names of a queue's streams, subjects and consumers. A queue name
// holds letters, digits, '.', '_' and '-'; a stream name cannot hold '.',
// nor can a subject token. [Encode] writes each '.' as '~', which no queue
// name holds, so the encoding keeps the name's length (a stream name has
// at most 255 bytes) and [Decode] undoes it.
const (
	// streamPrefix begins the name of a queue's stream: PQ_<encoded>.
	streamPrefix = "PQ_"
	// deadPrefix begins the name of its dead-letter stream: PQDLQ_<encoded>.
	deadPrefix = "PQDLQ_"
	// advisoryPrefix begins the name of the stream that captures its
	// max-deliveries advisories: PQADV_<encoded>.
	advisoryPrefix = "PQADV_"
	// subjectPrefix begins the subject of a queue's messages: pq.<encoded>.
	subjectPrefix = "pq."
	// deadSubjectPrefix begins the subject of its dead letters:
	// pqdlq.<encoded>.
	deadSubjectPrefix = "pqdlq."
	// consumerName names the one durable pull consumer of every queue's
	// stream, and of every advisory stream.
	consumerName = "pq"
	// maxDeliveriesPrefix begins the subject of the server's
	// max-deliveries advisories: the stream and consumer names follow.
	maxDeliveriesPrefix = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."
)

// Encode returns name as it appears in stream names and subjects: every
// '.' written as '~'.
func Encode(name string) string { return strings.ReplaceAll(name, ".", "~") }

// Decode undoes [Encode]; it fails on what Encode never makes.
func Decode(enc string) (string, error) {
	if strings.Contains(enc, ".") {
		return "", fmt.Errorf("%w: %q holds '.', which no encoded name holds", queue.ErrBadName, enc)
	}
	name := strings.ReplaceAll(enc, "~", ".")
	if err := queue.ValidName(name); err != nil {
		return "", err
	}
	return name, nil
}

// StreamName returns the name of the stream of the queue called name.
func StreamName(name string) string { return streamPrefix + Encode(name) }

// DeadStreamName returns the name of the dead-letter stream of the queue
// called name.
func DeadStreamName(name string) string { return deadPrefix + Encode(name) }

// advisoryStreamName returns the name of the stream that captures the
// max-deliveries advisories of the queue called name.
func advisoryStreamName(name string) string { return advisoryPrefix + Encode(name) }

// Subject returns the subject that the queue called name is sent on.
func Subject(name string) string { return subjectPrefix + Encode(name) }

// deadSubject returns the subject of the dead letters of the queue called
// name.
func deadSubject(name string) string { return deadSubjectPrefix + Encode(name) }

// advisorySubject returns the subject of the max-deliveries advisories of
// the queue called name.
func advisorySubject(name string) string {
	return maxDeliveriesPrefix + StreamName(name) + "." + consumerName
}

// QueueOfStream returns the name of the queue whose stream is called
// stream, and false for a stream that is no queue's.
func QueueOfStream(stream string) (string, bool) {
	enc, ok := strings.CutPrefix(stream, streamPrefix)
	if !ok {
		return "", false
	}
	name, err := Decode(enc)
	return name, err == nil
}
