// Command jetstream_bench measures NATS JetStream as a peer of the timeline pipeline: producer ->
// durable stream -> consumer, the same events, counting every one.
//
// Two processes, like the raw libzmq baseline: this program produces, and starts itself again
// with --role consumer as the consumer; each has its own connection to a nats-server that the
// caller started with JetStream on (Benchmarks/peers.py). The producer creates a file-storage
// stream with one subject and a durable pull consumer on it (acknowledge-all), starts the
// consumer process and waits for its word that it is bound, then starts the clock.
//
// The events are the lines of --events-file (the JSON bodies of `timeline ingest --synthetic N`),
// read into memory before the clock starts. The producer publishes each one asynchronously
// (PublishAsync, at most the client's default of 4000 unacknowledged) and waits until the stream
// has acknowledged all of them; a publish that fails or is refused fails the run. The consumer
// fetches --batch messages at a time, checks that the stream sequences run 1, 2, 3, ... with no
// gap and that each body is the event sent at that position, and acknowledges the last of each
// batch (which acknowledges the batch).
//
// Time runs from the producer's first publish to the consumer's last message, both on
// CLOCK_MONOTONIC (one clock for every process on Linux). Output: one JSON line on stdout, with
// send_seconds (the producer's time until every publish was acknowledged) as a diagnostic.
// Nothing is printed, and the exit status is non-zero, unless every event arrived once, intact and
// in order, and the stream then holds exactly N messages.
//
// Build (offline, with Debian's golang-go and golang-github-nats-io-go-nats-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o jetstream_bench Benchmarks/nats/jetstream_bench.go
//
// Run: jetstream_bench --url nats://127.0.0.1:4222 --events-file events.jsonl [--batch 1000]
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

const (
	streamName   = "TIMELINE_BENCH"
	subject      = "timeline.bench"
	consumerName = "counter"
	idleTimeout  = 30 * time.Second // either side gives up after this long without progress
)

// consumerResult is what the consumer process prints for the producer: one JSON line.
type consumerResult struct {
	Received uint64  `json:"received"`
	Bad      uint64  `json:"bad"` // a gap or a repeat in the stream sequence, or another body
	End      float64 `json:"end"` // CLOCK_MONOTONIC seconds at the last message
}

// monotonicSeconds reads CLOCK_MONOTONIC, which every process on the machine shares (Go's own
// monotonic readings are relative to the process's start).
func monotonicSeconds() float64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "jetstream_bench: "+format+"\n", args...)
	os.Exit(2)
}

// loadEvents reads the file and returns its non-empty lines, without their newlines.
func loadEvents(path string) [][]byte {
	text, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	var lines [][]byte
	for _, line := range bytes.Split(text, []byte{'\n'}) {
		if len(line) > 0 {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		fail("no events in %s", path)
	}
	return lines
}

func connect(url, who string) (*nats.Conn, nats.JetStreamContext) {
	nc, err := nats.Connect(url, nats.Name("timeline-bench-"+who), nats.Timeout(5*time.Second))
	if err != nil {
		fail("%s: cannot connect to %s: %v", who, url, err)
	}
	js, err := nc.JetStream()
	if err != nil {
		fail("%s: JetStream: %v", who, err)
	}
	return nc, js
}

// consume reads the stream through the durable pull consumer until every event is in, checking
// each message, and prints a consumerResult.
func consume(url string, lines [][]byte, batch int) {
	nc, js := connect(url, "consumer")
	defer nc.Close()
	sub, err := js.PullSubscribe(subject, consumerName, nats.Bind(streamName, consumerName))
	if err != nil {
		fail("consumer: pull subscribe: %v", err)
	}
	fmt.Println("ready")

	var result consumerResult
	total := uint64(len(lines))
	lastProgress := time.Now()
	for result.Received < total && result.Bad == 0 {
		msgs, err := sub.Fetch(batch, nats.MaxWait(5*time.Second))
		if len(msgs) == 0 {
			if err != nil && !errors.Is(err, nats.ErrTimeout) {
				fail("consumer: fetch: %v", err)
			}
			if time.Since(lastProgress) > idleTimeout {
				fmt.Fprintf(os.Stderr, "jetstream_bench: consumer: nothing for %v after %d of %d events\n", idleTimeout, result.Received, total)
				break
			}
			continue
		}
		lastProgress = time.Now()
		for _, m := range msgs {
			meta, err := m.Metadata()
			ok := err == nil && meta.Sequence.Stream == result.Received+1 &&
				result.Received < total && bytes.Equal(m.Data, lines[result.Received])
			if !ok {
				result.Bad++
			}
			result.Received++
		}
		if err := msgs[len(msgs)-1].Ack(); err != nil {
			fail("consumer: ack: %v", err)
		}
	}
	result.End = monotonicSeconds()
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}

// produce sets up the stream and the consumer, starts the consumer process, publishes every event
// and prints the figures.
func produce(url, path string, lines [][]byte, batch, maxPending int) int {
	var rejected atomic.Uint64
	nc, err := nats.Connect(url, nats.Name("timeline-bench-producer"), nats.Timeout(5*time.Second))
	if err != nil {
		fail("producer: cannot connect to %s: %v", url, err)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(maxPending), nats.PublishAsyncErrHandler(func(_ nats.JetStream, _ *nats.Msg, err error) {
		if rejected.Add(1) == 1 {
			fmt.Fprintf(os.Stderr, "jetstream_bench: producer: a publish failed: %v\n", err)
		}
	}))
	if err != nil {
		fail("producer: JetStream: %v", err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{
		Name: streamName, Subjects: []string{subject}, Storage: nats.FileStorage,
		Retention: nats.LimitsPolicy, Replicas: 1,
	}); err != nil {
		fail("producer: creating the stream: %v", err)
	}
	if _, err := js.AddConsumer(streamName, &nats.ConsumerConfig{
		Durable: consumerName, AckPolicy: nats.AckAllPolicy, DeliverPolicy: nats.DeliverAllPolicy,
		// Room for a few batches in flight: one acknowledgement a batch is all the consumer sends.
		MaxAckPending: 4 * batch,
	}); err != nil {
		fail("producer: creating the consumer: %v", err)
	}

	child := exec.Command(os.Args[0], "--role", "consumer", "--url", url, "--events-file", path, "--batch", strconv.Itoa(batch))
	child.Stderr = os.Stderr
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the producer
	childOut, err := child.StdoutPipe()
	if err != nil {
		fail("producer: %v", err)
	}
	if err := child.Start(); err != nil {
		fail("producer: starting the consumer: %v", err)
	}
	defer func() {
		if child.ProcessState == nil {
			child.Process.Kill()
			child.Wait()
		}
	}()
	reader := bufio.NewReader(childOut)
	if line, err := reader.ReadString('\n'); err != nil || line != "ready\n" {
		fmt.Fprintf(os.Stderr, "jetstream_bench: the consumer did not start\n")
		return 2
	}

	start := monotonicSeconds()
	for _, line := range lines {
		if _, err := js.PublishAsync(subject, line, nats.StallWait(idleTimeout)); err != nil {
			fmt.Fprintf(os.Stderr, "jetstream_bench: producer: publish: %v\n", err)
			return 2
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(idleTimeout):
		fmt.Fprintf(os.Stderr, "jetstream_bench: producer: %d publishes still unacknowledged after %v\n", js.PublishAsyncPending(), idleTimeout)
		return 2
	}
	sent := monotonicSeconds()

	var result consumerResult
	line, readErr := reader.ReadString('\n')
	waitErr := child.Wait()
	if readErr != nil || waitErr != nil || json.Unmarshal([]byte(line), &result) != nil {
		fmt.Fprintf(os.Stderr, "jetstream_bench: the consumer failed (%v)\n", waitErr)
		return 1
	}
	info, err := js.StreamInfo(streamName)
	if err != nil {
		fail("producer: stream info: %v", err)
	}
	total := uint64(len(lines))
	if rejected.Load() != 0 || result.Received != total || result.Bad != 0 || info.State.Msgs != total {
		fmt.Fprintf(os.Stderr, "jetstream_bench: %d publishes failed; consumer read %d of %d events, %d out of sequence or not the event sent there; the stream holds %d messages\n",
			rejected.Load(), result.Received, total, result.Bad, info.State.Msgs)
		return 1
	}
	seconds := result.End - start
	fmt.Printf("{\"events\":%d,\"batch\":%d,\"seconds\":%.6f,\"send_seconds\":%.6f,\"events_per_second\":%.0f,\"client\":\"nats.go %s\"}\n",
		total, batch, seconds, sent-start, float64(total)/seconds, nats.Version)
	return 0
}

func main() {
	url := flag.String("url", nats.DefaultURL, "the nats-server to use (JetStream on)")
	path := flag.String("events-file", "", "the events, one JSON body a line")
	batch := flag.Int("batch", 1000, "messages a fetch asks for")
	maxPending := flag.Int("max-pending", 4000, "unacknowledged asynchronous publishes at most (the client's default)")
	role := flag.String("role", "producer", "producer, or consumer (started by the producer)")
	flag.Parse()
	if *path == "" || *batch < 1 || *maxPending < 1 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(64)
	}
	lines := loadEvents(*path)
	switch *role {
	case "producer":
		os.Exit(produce(*url, *path, lines, *batch, *maxPending))
	case "consumer":
		consume(*url, lines, *batch)
	default:
		flag.Usage()
		os.Exit(64)
	}
}
