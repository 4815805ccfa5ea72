// Event-stream fan-out benchmark: CLIENTS connections to GET /v1/events on one epoll loop,
// then EVENTS lifecycle events caused one after another (pause and resume of DOMAIN), each
// timed from the moment its action request is sent to the moment the last client has it.
// Prints the latencies' median and 99th percentile, the spread from first to last client,
// and the server's threads and resident memory while every client is connected.
//
//   sse_fanout PORT SERVER_PID [CLIENTS=1000] [EVENTS=100] [DOMAIN=test]
//
// The action's own round trip is inside the latency, so it is an upper bound of the time
// from libvirt's event to the last subscriber (the event's `time` is to the second only).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char marker[] = "event: lifecycle\n";
enum { MARKER_LENGTH = sizeof(marker) - 1 };

struct client {
    int fd;
    int ready;                       // the stream's `retry:` line arrived
    int events;                      // lifecycle frames seen
    char tail[MARKER_LENGTH - 1];    // the last bytes read, for a marker split across reads
    int tail_length;
};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); exit(1); }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) { perror("connect"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *text) {
    size_t length = strlen(text), sent = 0;
    while (sent < length) {
        ssize_t n = write(fd, text + sent, length - sent);
        if (n < 0) { if (errno == EINTR) continue; perror("write"); exit(1); }
        sent += (size_t)n;
    }
}

// Counts markers in what arrived, including one split between this read and the last.
static int count_markers(struct client *client, const char *data, int length) {
    char joined[MARKER_LENGTH - 1 + 65536];
    memcpy(joined, client->tail, client->tail_length);
    memcpy(joined + client->tail_length, data, length);
    int total = client->tail_length + length, found = 0;
    for (const char *at = joined; (at = memmem(at, joined + total - at, marker, MARKER_LENGTH)); at += MARKER_LENGTH) found++;
    if (!client->ready && memmem(joined, total, "retry:", 6)) client->ready = 1;
    client->tail_length = total < MARKER_LENGTH - 1 ? total : MARKER_LENGTH - 1;
    memcpy(client->tail, joined + total - client->tail_length, client->tail_length);
    return found;
}

static long status_field(int pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    long value = -1;
    size_t length = strlen(field);
    while (fgets(line, sizeof line, file))
        if (strncmp(line, field, length) == 0) { value = strtol(line + length, NULL, 10); break; }
    fclose(file);
    return value;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *sorted, int count, double p) {
    int index = (int)(p * count + 0.999999) - 1;
    if (index < 0) index = 0;
    if (index >= count) index = count - 1;
    return sorted[index];
}

// The loop's state: the clients, the action request in flight, and the event being timed.
static struct client *clients;
static int client_count, loop, action = -1, ready_count, target, have;
static double first_arrival, last_arrival;

static int all_ready(void) { return ready_count == client_count; }
static int event_done(void) { return have == client_count && action < 0; }

// Reads what arrived until `done()` holds or `deadline` passes; returns `done()`.
static int pump(int (*done)(void), double deadline) {
    struct epoll_event ready[256];
    static char buffer[65536];
    while (!done()) {
        double left = deadline - now_ms();
        if (left <= 0) return 0;
        int n = epoll_wait(loop, ready, 256, (int)left + 1);
        for (int k = 0; k < n; k++) {
            uint32_t id = ready[k].data.u32;
            if (id == UINT32_MAX) {  // the action's response: read it to the end
                ssize_t got = read(action, buffer, sizeof buffer);
                if (got == 0 || (got < 0 && errno != EAGAIN)) {
                    epoll_ctl(loop, EPOLL_CTL_DEL, action, NULL);
                    close(action);
                    action = -1;
                }
                continue;
            }
            struct client *client = &clients[id];
            for (;;) {
                ssize_t got = read(client->fd, buffer, sizeof buffer);
                if (got < 0 && errno == EAGAIN) break;
                if (got <= 0) {
                    fprintf(stderr, "client %u: stream ended\n", id);
                    exit(1);
                }
                int was_ready = client->ready;
                int found = count_markers(client, buffer, (int)got);
                if (!was_ready && client->ready) ready_count++;
                int before = client->events;
                client->events += found;
                if (before < target && client->events >= target) {
                    double t = now_ms();
                    if (have++ == 0) first_arrival = t;
                    last_arrival = t;
                }
            }
        }
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: sse_fanout PORT SERVER_PID [CLIENTS] [EVENTS] [DOMAIN]\n");
        return 2;
    }
    int port = atoi(argv[1]), server = atoi(argv[2]);
    client_count = argc > 3 ? atoi(argv[3]) : 1000;
    int events = argc > 4 ? atoi(argv[4]) : 100;
    const char *domain = argc > 5 ? argv[5] : "test";

    struct rlimit limit = {client_count + 64, client_count + 64}, current;
    getrlimit(RLIMIT_NOFILE, &current);
    if (current.rlim_cur < limit.rlim_cur && setrlimit(RLIMIT_NOFILE, &limit) < 0) {
        perror("setrlimit");
        return 1;
    }

    loop = epoll_create1(0);
    clients = calloc(client_count, sizeof *clients);
    for (int i = 0; i < client_count; i++) {
        clients[i].fd = connect_to(port);
        send_all(clients[i].fd, "GET /v1/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n");
        fcntl(clients[i].fd, F_SETFL, O_NONBLOCK);
        struct epoll_event interest = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(loop, EPOLL_CTL_ADD, clients[i].fd, &interest);
    }
    if (!pump(all_ready, now_ms() + 30000)) {
        fprintf(stderr, "only %d of %d streams opened\n", ready_count, client_count);
        return 1;
    }
    long threads = status_field(server, "Threads:"), rss_kb = status_field(server, "VmRSS:");

    double *latency = calloc(events, sizeof *latency), *spread = calloc(events, sizeof *spread);
    char request[256];
    for (int e = 0; e < events; e++) {
        target = e + 1;
        have = 0;
        snprintf(request, sizeof request,
                 "POST /v1/domains/%s/%s HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                 domain, e % 2 == 0 ? "pause" : "resume");
        action = connect_to(port);
        double sent = now_ms();
        send_all(action, request);
        fcntl(action, F_SETFL, O_NONBLOCK);
        struct epoll_event interest = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
        epoll_ctl(loop, EPOLL_CTL_ADD, action, &interest);
        if (!pump(event_done, now_ms() + 10000)) {
            fprintf(stderr, "event %d reached %d of %d clients\n", e + 1, have, client_count);
            return 1;
        }
        latency[e] = last_arrival - sent;
        spread[e] = last_arrival - first_arrival;
        long t = status_field(server, "Threads:"), r = status_field(server, "VmRSS:");
        if (t > threads) threads = t;
        if (r > rss_kb) rss_kb = r;
    }
    qsort(latency, events, sizeof *latency, compare);
    qsort(spread, events, sizeof *spread, compare);
    printf("clients %d events %d p50_ms %.2f p99_ms %.2f max_ms %.2f spread_p50_ms %.2f spread_p99_ms %.2f "
           "threads %ld rss_mb %.1f\n",
           client_count, events, percentile(latency, events, 0.5), percentile(latency, events, 0.99),
           latency[events - 1], percentile(spread, events, 0.5), percentile(spread, events, 0.99), threads,
           rss_kb / 1024.0);
    return 0;
}
