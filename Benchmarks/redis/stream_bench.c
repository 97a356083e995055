/*
 * Redis Streams as a peer of the timeline pipeline: producer -> durable log -> consumer, the same
 * events, counting every one.
 *
 * Two processes, like the raw libzmq baseline: the parent produces, the forked child consumes; no
 * hiredis state exists before the fork, each opens its own connection to a redis-server that the
 * caller started (Benchmarks/peers.py starts it with appendonly yes, appendfsync everysec, so the
 * stream is written to the append-only file before a command is answered and fsynced once a
 * second, like the broker's log).
 *
 * The events are the lines of --events-file (the JSON bodies of `timeline ingest --synthetic N`),
 * read into memory before the clock starts. The producer sends `XADD KEY * e BODY` for each, --batch
 * commands per round trip (pipelined: all of a batch are written, then all of its replies read;
 * every reply must be a new entry id). The consumer reads `XREAD COUNT batch BLOCK ms STREAMS KEY
 * last-id` from the start of the stream, and checks that the entry ids rise strictly, that every
 * entry has the one field, and that its body is the event the producer sent at that position.
 *
 * Time runs from the producer's first command to the consumer's last entry read, both on
 * CLOCK_MONOTONIC (one clock for every process on Linux). The consumer connects and tells the
 * producer through a pipe before the clock starts. Output: one JSON line on stdout, with
 * send_seconds (the producer's time until its last reply) as a diagnostic. Nothing is printed, and
 * the exit status is non-zero, unless every event arrived once, intact and in order, and the stream
 * then holds exactly N entries.
 *
 * Build: cc -O2 -o redis_stream_bench Benchmarks/redis/stream_bench.c $(pkg-config --cflags --libs hiredis)
 * Run:   redis_stream_bench --port 6379 --events-file events.jsonl [--batch 1000]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define FIELD "e"
#define BLOCK_MS 30000 /* the consumer gives up after this long without an entry */

struct events { /* the bodies, one a line of the file */
    char *text;
    char **line;
    size_t *length;
    size_t count;
};

struct result { /* what the consumer sends back over the pipe */
    uint64_t received;
    uint64_t bad; /* entries with the wrong shape, an id not above the previous one, or another body */
    double end;   /* CLOCK_MONOTONIC seconds at the last entry read */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out) {
    fprintf(out, "usage: redis_stream_bench --port P --events-file FILE [--host H] [--batch B] [--key K]\n"
                 "  XADDs every line of FILE to stream K (default timeline-bench) on redis at H:P (default 127.0.0.1),\n"
                 "  B commands per round trip (default 1000), while a second process XREADs them B at a time;\n"
                 "  prints one JSON line.\n");
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

/* Reads FILE whole and splits it into lines (without their newlines; empty lines are skipped). */
static int load_events(const char *path, struct events *ev) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    if (fseek(f, 0, SEEK_END) != 0) { perror(path); fclose(f); return -1; }
    long size = ftell(f);
    rewind(f);
    ev->text = malloc((size_t)size + 1);
    if (!ev->text || fread(ev->text, 1, (size_t)size, f) != (size_t)size) { perror(path); fclose(f); return -1; }
    fclose(f);
    ev->text[size] = '\n';
    size_t lines = 0;
    for (long i = 0; i <= size; i++) lines += ev->text[i] == '\n';
    ev->line = malloc(lines * sizeof *ev->line);
    ev->length = malloc(lines * sizeof *ev->length);
    if (!ev->line || !ev->length) return -1;
    ev->count = 0;
    char *start = ev->text;
    for (long i = 0; i <= size; i++) {
        if (ev->text[i] != '\n') continue;
        size_t len = (size_t)(ev->text + i - start);
        if (len > 0) {
            ev->line[ev->count] = start;
            ev->length[ev->count] = len;
            ev->count++;
        }
        start = ev->text + i + 1;
    }
    return 0;
}

static redisContext *connect_to(const char *host, int port, const char *who) {
    struct timeval timeout = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, port, timeout);
    if (!c || c->err) {
        fprintf(stderr, "redis_stream_bench: %s: cannot connect to %s:%d: %s\n", who, host, port, c ? c->errstr : "out of memory");
        return NULL;
    }
    return c;
}

/* Parses an entry id "MS-SEQ"; 0 when it is not one. */
static int parse_id(const char *s, uint64_t *ms, uint64_t *seq) {
    char *end = NULL;
    errno = 0;
    *ms = strtoull(s, &end, 10);
    if (errno || end == s || *end != '-') return 0;
    const char *rest = end + 1;
    *seq = strtoull(rest, &end, 10);
    return !errno && end != rest && *end == '\0';
}

/* The child: read the stream from its start until every event is in, checking each entry. */
static int consumer(const char *host, int port, const char *key, const struct events *ev, int batch, int ready_fd, int result_fd) {
    redisContext *c = connect_to(host, port, "consumer");
    if (!c) return 2;
    if (write_all(ready_fd, "r", 1) != 0) return 2;
    close(ready_fd);

    struct result r = {0, 0, 0};
    char last[64] = "0-0";
    uint64_t last_ms = 0, last_seq = 0;
    char count[32], block[32];
    snprintf(count, sizeof count, "%d", batch);
    snprintf(block, sizeof block, "%d", BLOCK_MS);
    while (r.received < ev->count) {
        const char *argv[] = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS", key, last};
        redisReply *reply = redisCommandArgv(c, 8, argv, NULL);
        if (!reply) {
            fprintf(stderr, "redis_stream_bench: consumer: XREAD: %s\n", c->errstr);
            return 2;
        }
        if (reply->type == REDIS_REPLY_NIL) {
            fprintf(stderr, "redis_stream_bench: consumer: nothing for %d ms after %" PRIu64 " of %zu events\n",
                    BLOCK_MS, r.received, ev->count);
            freeReplyObject(reply);
            break;
        }
        /* [[key, [[id, [field, body]], ...]]] */
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 || reply->element[0]->type != REDIS_REPLY_ARRAY ||
            reply->element[0]->elements != 2 || reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "redis_stream_bench: consumer: XREAD answered something other than one stream's entries\n");
            freeReplyObject(reply);
            return 2;
        }
        redisReply *entries = reply->element[0]->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            redisReply *entry = entries->element[i];
            int ok = entry->type == REDIS_REPLY_ARRAY && entry->elements == 2 && entry->element[0]->type == REDIS_REPLY_STRING &&
                     entry->element[1]->type == REDIS_REPLY_ARRAY && entry->element[1]->elements == 2;
            uint64_t ms = 0, seq = 0;
            if (ok) {
                redisReply *id = entry->element[0];
                redisReply *field = entry->element[1]->element[0];
                redisReply *body = entry->element[1]->element[1];
                ok = id->len < sizeof last && parse_id(id->str, &ms, &seq) && (ms > last_ms || (ms == last_ms && seq > last_seq));
                ok = ok && field->len == strlen(FIELD) && memcmp(field->str, FIELD, field->len) == 0;
                ok = ok && r.received < ev->count && body->type == REDIS_REPLY_STRING && body->len == ev->length[r.received] &&
                     memcmp(body->str, ev->line[r.received], body->len) == 0;
                if (id->len < sizeof last) {
                    memcpy(last, id->str, id->len + 1);
                    last_ms = ms;
                    last_seq = seq;
                }
            }
            if (!ok) r.bad++;
            r.received++;
        }
        freeReplyObject(reply);
        if (r.bad) break;
    }
    r.end = now();
    int status = write_all(result_fd, &r, sizeof r) == 0 ? 0 : 2;
    redisFree(c);
    return status;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *key = "timeline-bench", *path = NULL;
    long port = 0, batch = 1000;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) { usage(stdout); return 0; }
        if (i + 1 >= argc) { usage(stderr); return 64; }
        char *end = NULL;
        if (strcmp(arg, "--port") == 0) port = strtol(argv[++i], &end, 10);
        else if (strcmp(arg, "--batch") == 0) batch = strtol(argv[++i], &end, 10);
        else if (strcmp(arg, "--host") == 0) host = argv[++i];
        else if (strcmp(arg, "--key") == 0) key = argv[++i];
        else if (strcmp(arg, "--events-file") == 0) path = argv[++i];
        else { usage(stderr); return 64; }
        if (end && *end != '\0') { usage(stderr); return 64; }
    }
    if (!path || port < 1 || port > 65535 || batch < 1 || batch > 1000000) { usage(stderr); return 64; }

    struct events ev;
    if (load_events(path, &ev) != 0) return 2;
    if (ev.count == 0) { fprintf(stderr, "redis_stream_bench: no events in %s\n", path); return 64; }

    int ready_pipe[2], result_pipe[2];
    if (pipe(ready_pipe) != 0 || pipe(result_pipe) != 0) { perror("redis_stream_bench: pipe"); return 2; }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) { perror("redis_stream_bench: fork"); return 2; }
    if (child == 0) {
        /* Do not outlive the producer (killed, or interrupted). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(2);
        close(ready_pipe[0]);
        close(result_pipe[0]);
        _exit(consumer(host, (int)port, key, &ev, (int)batch, ready_pipe[1], result_pipe[1]));
    }
    close(ready_pipe[1]);
    close(result_pipe[1]);

    /* The parent: the producer. */
    int status = 1;
    redisContext *c = connect_to(host, (int)port, "producer");
    char ready;
    if (!c || read_all(ready_pipe[0], &ready, 1) != 0) {
        if (c) fprintf(stderr, "redis_stream_bench: the consumer did not start\n");
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 2;
    }
    redisReply *reply = redisCommand(c, "XLEN %s", key);
    if (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer != 0) {
        fprintf(stderr, "redis_stream_bench: stream %s is not empty (or XLEN failed)\n", key);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 2;
    }
    freeReplyObject(reply);

    uint64_t rejected = 0;
    const char *xadd[5] = {"XADD", key, "*", FIELD, NULL};
    size_t xadd_len[5] = {4, strlen(key), 1, strlen(FIELD), 0};
    double start = now();
    for (size_t first = 0; first < ev.count; first += (size_t)batch) {
        size_t last = first + (size_t)batch < ev.count ? first + (size_t)batch : ev.count;
        for (size_t i = first; i < last; i++) {
            xadd[4] = ev.line[i];
            xadd_len[4] = ev.length[i];
            if (redisAppendCommandArgv(c, 5, xadd, xadd_len) != REDIS_OK) {
                fprintf(stderr, "redis_stream_bench: producer: %s\n", c->errstr);
                goto done;
            }
        }
        for (size_t i = first; i < last; i++) {
            if (redisGetReply(c, (void **)&reply) != REDIS_OK) {
                fprintf(stderr, "redis_stream_bench: producer: XADD: %s\n", c->errstr);
                goto done;
            }
            if (reply->type != REDIS_REPLY_STRING) {
                if (rejected++ == 0) fprintf(stderr, "redis_stream_bench: producer: XADD answered %s\n", reply->type == REDIS_REPLY_ERROR ? reply->str : "no entry id");
            }
            freeReplyObject(reply);
        }
    }
    double sent = now();

    struct result r;
    int got_result = read_all(result_pipe[0], &r, sizeof r) == 0;
    int child_status = 0;
    waitpid(child, &child_status, 0);
    child = 0;
    reply = redisCommand(c, "XLEN %s", key);
    long long length = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    if (reply) freeReplyObject(reply);

    if (!got_result || !WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        fprintf(stderr, "redis_stream_bench: the consumer failed\n");
    } else if (rejected || r.received != ev.count || r.bad || length != (long long)ev.count) {
        fprintf(stderr, "redis_stream_bench: %" PRIu64 " XADDs rejected; consumer read %" PRIu64 " of %zu events, %" PRIu64
                        " malformed, out of order or not the event sent there; the stream holds %lld entries\n",
                rejected, r.received, ev.count, r.bad, length);
    } else {
        double seconds = r.end - start;
        printf("{\"events\":%zu,\"batch\":%ld,\"seconds\":%.6f,\"send_seconds\":%.6f,\"events_per_second\":%.0f}\n",
               ev.count, batch, seconds, sent - start, (double)ev.count / seconds);
        status = 0;
    }
done:
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    redisFree(c);
    return status;
}
