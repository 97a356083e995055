/*
 * Raw libzmq PUB/SUB throughput: the reference the timeline pipeline is compared against.
 *
 * Two processes, like two daemons: the parent publishes (XPUB, bound to an OS-chosen port on
 * tcp://127.0.0.1), the forked child subscribes (SUB, connected). No ZeroMQ state exists before the
 * fork; the child learns the endpoint through a pipe and creates its own context. The publisher
 * waits for the subscription message on its XPUB socket before sending (no sleeps), and both high
 * water marks are 0 (unlimited), so nothing is dropped.
 *
 * Each message is either two frames (topic, payload of --bytes bytes) or three frames like the
 * pipeline's wire format (topic, 40-byte version-1 header with a 21-byte producer id, body of
 * --bytes bytes). Every message carries its index (in the payload's first 8 bytes, or in the
 * header's producer sequence), and the subscriber checks the frame count, the sizes and the order.
 *
 * Time runs from the publisher's first send to the subscriber's last receive, both read from
 * CLOCK_MONOTONIC (one clock for all processes on Linux). Output: one JSON line on stdout, with
 * send_seconds, the publisher's time to queue all N, as a diagnostic. Nothing is printed, and the
 * exit status is non-zero, unless all N messages arrived intact and in order.
 *
 * Build: cc -O2 -o zmq_pubsub Benchmarks/raw/zmq_pubsub.c $(pkg-config --cflags --libs libzmq)
 * Run:   zmq_pubsub --messages 200000 --bytes 250 --frames 2
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define TOPIC "visit.MN.KP"
#define PREFIX "visit."
#define PRODUCER_ID "producer-0123456789ab" /* 21 bytes, like the Swift producer's default id */
#define HEADER_SIZE (19 + sizeof(PRODUCER_ID) - 1)
#define IDLE_TIMEOUT_MS 30000 /* the subscriber gives up after this long without a message */

struct result { /* what the subscriber sends back over the pipe */
    uint64_t received;
    uint64_t bad; /* messages with the wrong shape, or not the one after the one before */
    double end;   /* CLOCK_MONOTONIC seconds at the last receive */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "zmq_pubsub: %s: %s\n", what, errno ? zmq_strerror(errno) : "failed");
    exit(2);
}

static void usage(FILE *out) {
    fprintf(out, "usage: zmq_pubsub [--messages N] [--bytes S] [--frames 2|3]\n"
                 "  N messages (default 200000) of S payload bytes (default 250) over PUB/SUB on TCP loopback,\n"
                 "  publisher and subscriber in two processes; prints one JSON line.\n");
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void put_be64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

/* The child: connect, subscribe, receive N messages, report. */
static int subscriber(int endpoint_fd, int result_fd, uint64_t n, size_t size, int frames) {
    char endpoint[256];
    size_t len = 0;
    if (read_all(endpoint_fd, &len, sizeof len) != 0 || len >= sizeof endpoint || read_all(endpoint_fd, endpoint, len) != 0) {
        fprintf(stderr, "zmq_pubsub: subscriber: no endpoint from the publisher\n");
        return 2;
    }
    endpoint[len] = '\0';

    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    if (!sub || zmq_setsockopt(sub, ZMQ_RCVHWM, &zero, sizeof zero) != 0) die("subscriber socket");
    if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, PREFIX, strlen(PREFIX)) != 0) die("subscribe");
    if (zmq_connect(sub, endpoint) != 0) die("connect");

    size_t cap = size > HEADER_SIZE ? size : HEADER_SIZE;
    unsigned char *buf = malloc(cap + 64);
    char topic[64];
    struct result r = {0, 0, 0};
    uint64_t last = 0; /* index of the previous message */
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};

    while (r.received < n) {
        /* Block in recv normally; poll only to notice a stalled stream. */
        int more = 0;
        int rc = zmq_recv(sub, topic, sizeof topic, ZMQ_DONTWAIT);
        if (rc < 0 && errno == EAGAIN) {
            int ready = zmq_poll(&item, 1, IDLE_TIMEOUT_MS);
            if (ready == 0) {
                fprintf(stderr, "zmq_pubsub: subscriber: nothing for %d ms after %" PRIu64 " of %" PRIu64 " messages\n",
                        IDLE_TIMEOUT_MS, r.received, n);
                break;
            }
            if (ready < 0) die("poll");
            continue;
        }
        if (rc < 0) die("recv");
        int ok = rc == (int)strlen(TOPIC) && memcmp(topic, TOPIC, strlen(TOPIC)) == 0;
        uint64_t index = UINT64_MAX;
        size_t more_size = sizeof more;
        int got = 1;
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_size);
        while (more) {
            rc = zmq_recv(sub, buf, cap + 64, 0);
            if (rc < 0) die("recv");
            got++;
            if (frames == 3 && got == 2) {
                ok = ok && rc == (int)HEADER_SIZE && buf[0] == 1 && buf[1] == 0 && buf[18] == sizeof(PRODUCER_ID) - 1;
                if (rc >= 19) index = get_be64(buf + 10);
            } else if (got == frames) {
                ok = ok && rc == (int)size;
                if (frames == 2 && size >= 8) index = get_be64(buf);
            }
            zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_size);
        }
        ok = ok && got == frames;
        /* Order check where the index fits (always in three-frame mode, at 8+ bytes in two). */
        if (index != UINT64_MAX) {
            if (index != last + 1) ok = 0;
            last = index;
        }
        if (!ok) r.bad++;
        r.received++;
    }
    r.end = now();
    int status = write_all(result_fd, &r, sizeof r) == 0 ? 0 : 2;
    free(buf);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return status;
}

int main(int argc, char **argv) {
    uint64_t n = 200000;
    long size = 250;
    int frames = 2;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) { usage(stdout); return 0; }
        if (i + 1 >= argc) { usage(stderr); return 64; }
        char *end = NULL;
        if (strcmp(arg, "--messages") == 0) n = strtoull(argv[++i], &end, 10);
        else if (strcmp(arg, "--bytes") == 0) size = strtol(argv[++i], &end, 10);
        else if (strcmp(arg, "--frames") == 0) frames = (int)strtol(argv[++i], &end, 10);
        else { usage(stderr); return 64; }
        if (!end || *end != '\0') { usage(stderr); return 64; }
    }
    if (n == 0 || size < 0 || size > (1L << 24) || (frames != 2 && frames != 3)) { usage(stderr); return 64; }

    int endpoint_pipe[2], result_pipe[2];
    if (pipe(endpoint_pipe) != 0 || pipe(result_pipe) != 0) { perror("zmq_pubsub: pipe"); return 2; }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) { perror("zmq_pubsub: fork"); return 2; }
    if (child == 0) {
        close(endpoint_pipe[1]);
        close(result_pipe[0]);
        _exit(subscriber(endpoint_pipe[0], result_pipe[1], n, (size_t)size, frames));
    }
    close(endpoint_pipe[0]);
    close(result_pipe[1]);

    /* The parent: publisher. */
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_XPUB);
    int zero = 0;
    if (!pub || zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof zero) != 0) die("publisher socket");
    if (zmq_bind(pub, "tcp://127.0.0.1:*") != 0) die("bind");
    char endpoint[256];
    size_t endpoint_len = sizeof endpoint;
    if (zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_len) != 0) die("last endpoint");
    size_t len = strlen(endpoint);
    if (write_all(endpoint_pipe[1], &len, sizeof len) != 0 || write_all(endpoint_pipe[1], endpoint, len) != 0) die("endpoint pipe");
    close(endpoint_pipe[1]);

    /* Wait for the subscriber's subscribe message (first byte 1). */
    zmq_pollitem_t item = {pub, 0, ZMQ_POLLIN, 0};
    for (;;) {
        int ready = zmq_poll(&item, 1, 30000);
        if (ready <= 0) { fprintf(stderr, "zmq_pubsub: no subscription within 30 s\n"); kill(child, SIGTERM); return 2; }
        unsigned char sub_msg[64];
        int rc = zmq_recv(pub, sub_msg, sizeof sub_msg, 0);
        if (rc >= 1 && sub_msg[0] == 1) break;
    }

    unsigned char *payload = calloc(1, (size_t)size + 8);
    for (long i = 0; i < size; i++) payload[i] = (unsigned char)('a' + i % 26);
    unsigned char header[HEADER_SIZE];
    header[0] = 1; /* version */
    header[1] = 0; /* JSON */
    put_be64(header + 2, 0);
    put_be64(header + 10, 0);
    header[18] = (unsigned char)(sizeof(PRODUCER_ID) - 1);
    memcpy(header + 19, PRODUCER_ID, sizeof(PRODUCER_ID) - 1);

    double start = now();
    for (uint64_t i = 1; i <= n; i++) {
        if (zmq_send(pub, TOPIC, strlen(TOPIC), ZMQ_SNDMORE) < 0) die("send");
        if (frames == 3) {
            put_be64(header + 10, i);
            if (zmq_send(pub, header, HEADER_SIZE, ZMQ_SNDMORE) < 0) die("send");
        } else if (size >= 8) {
            put_be64(payload, i);
        }
        if (zmq_send(pub, payload, (size_t)size, 0) < 0) die("send");
    }
    double sent = now();

    struct result r;
    int got_result = read_all(result_pipe[0], &r, sizeof r) == 0;
    int child_status = 0;
    waitpid(child, &child_status, 0);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    free(payload);

    if (!got_result || !WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        fprintf(stderr, "zmq_pubsub: the subscriber failed\n");
        return 1;
    }
    if (r.received != n || r.bad != 0) {
        fprintf(stderr, "zmq_pubsub: received %" PRIu64 " of %" PRIu64 " messages, %" PRIu64 " malformed, missing a predecessor or out of order\n",
                r.received, n, r.bad);
        return 1;
    }
    double seconds = r.end - start;
    printf("{\"messages\":%" PRIu64 ",\"bytes\":%ld,\"frames\":%d,\"seconds\":%.6f,\"send_seconds\":%.6f,\"messages_per_second\":%.0f}\n",
           n, size, frames, seconds, sent - start, (double)n / seconds);
    return 0;
}
