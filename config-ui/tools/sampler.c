/*
 * pullbox-sampler: pullboxd's figures for the wizard's Status graphs.
 *
 *   pullbox-sampler [ -i SECONDS ] [ -p PORT ] [ -n COUNT ] FILE
 *   pullbox-sampler -r hour|day FILE     print the window's points, oldest first
 *
 * Every SECONDS (10; 1-300) reads pullboxd's /metrics on 127.0.0.1:PORT
 * (8895) and adds one sample to the ring file FILE (lib/graphring.h: a
 * fixed size, the last hour every 10 s and the last day every 5 min):
 * open connections, messages published and delivered per second,
 * connections dropped per minute (the counters' increase since the last
 * reading; a counter that went down is a restarted pullboxd, counted from
 * zero), and pullboxd's resident memory (from /proc, by the pid that
 * /server-stat/ gives: /metrics has no memory figure). A reading that
 * fails (pullboxd down) adds nothing: the graph shows a gap. Runs as an
 * unprivileged user (the runit service pullbox-sampler); needs nothing but
 * the file.
 *
 * Runs until killed, or COUNT samples. Exits 0 after COUNT (or printing),
 * 100 on usage errors, 111 when FILE cannot be opened, read or written.
 */
#include "graphring.h"
#include "selftest.h"
#include "status.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define USAGE "pullbox-sampler [ -i SECONDS ] [ -p PORT ] [ -n COUNT ] FILE | -r hour|day FILE"
#define PROG "pullbox-sampler"
#define SAMPLER_TIMEOUT 5.0 /* seconds pullboxd may take to answer */

struct reading {
    double connections, messages, deliveries, drops; /* gauges and counters as read */
    double memory;                                   /* bytes, 0 if unknown */
    double at;                                       /* monotonic seconds */
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int get(int port, const char *path, char **body)
{
    char err[256];
    size_t len;
    int status;
    if (selftest_http("127.0.0.1", port, "GET", path, NULL, SAMPLER_TIMEOUT, body, &len, &status,
                      err, sizeof(err)) != 0)
        return -1;
    if (status != 200) {
        free(*body);
        return -1;
    }
    return 0;
}

/* pullboxd's resident memory: its pid from /server-stat/, then its statm. */
static double memory(int port)
{
    char *body, path[64];
    const char *p;
    long pid = 0, pages = 0, size;
    if (get(port, "/server-stat/", &body) != 0)
        return 0;
    if ((p = strstr(body, "\"pid\":")) != NULL)
        pid = strtol(p + 6, NULL, 10);
    free(body);
    snprintf(path, sizeof(path), "/proc/%ld/statm", pid);
    FILE *f = pid > 0 ? fopen(path, "re") : NULL;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &pages) != 2)
        pages = 0;
    fclose(f);
    return (double)pages * (double)sysconf(_SC_PAGESIZE);
}

static int read_metrics(int port, struct reading *r)
{
    struct status_metrics m;
    memset(r, 0, sizeof(*r));
    if (status_metrics(port, SAMPLER_TIMEOUT, &m) != 0)
        return -1;
    r->connections = (double)m.connections;
    r->messages = (double)m.messages_total;
    r->deliveries = m.deliveries_total;
    r->drops = m.drops_total;
    r->at = mono();
    r->memory = memory(port);
    return 0;
}

/* The increase of a counter; one that went down restarted from zero. */
static double increase(double now, double before)
{
    return now >= before ? now - before : now;
}

/* -r: one line per point, "unix-time connections messages/s deliveries/s
 * memory-bytes drops/min". */
static int print_window(const char *tier_name, const char *file)
{
    static struct graph_point pts[512];
    char err[512];
    int tier = -1;
    for (int i = 0; i < GRAPH__TIERS; i++)
        if (strcmp(graph_tiers[i].name, tier_name) == 0)
            tier = i;
    if (tier < 0) {
        fprintf(stderr, "%s: -r %s: hour or day\nusage: %s\n", PROG, tier_name, USAGE);
        return 100;
    }
    long n = graphring_read(file, (enum graph_tier)tier, (long long)time(NULL), pts, 512, err,
                            sizeof(err));
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return 111;
    }
    for (long i = 0; i < n; i++) {
        printf("%lld", pts[i].t);
        for (int k = 0; k < GRAPH__COUNT; k++)
            printf(" %.6g", pts[i].v[k]);
        printf("\n");
    }
    return 0;
}

int main(int argc, char **argv)
{
    long interval = 10, port = 8895, count = -1;
    int opt;
    if (argc == 4 && strcmp(argv[1], "-r") == 0)
        return print_window(argv[2], argv[3]);
    while ((opt = getopt(argc, argv, "i:p:n:")) != -1) {
        char *end;
        long v = strtol(optarg, &end, 10);
        if (*end != '\0' || v < 1 || (opt == 'i' && v > 300) || (opt == 'p' && v > 65535)) {
            fprintf(stderr, "%s: -%c %s is out of range\nusage: %s\n", PROG, opt, optarg, USAGE);
            return 100;
        }
        if (opt == 'i')
            interval = v;
        else if (opt == 'p')
            port = v;
        else if (opt == 'n')
            count = v;
        else
            return 100;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: %s\n", USAGE);
        return 100;
    }
    const char *file = argv[optind];
    char err[512];
    int fd = graphring_open(file, err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return 111;
    }
    struct reading prev, cur;
    bool have_prev = false, said_down = false;
    for (long n = 0; count < 0 || n < count;) {
        if (read_metrics((int)port, &cur) != 0) {
            if (!said_down)
                fprintf(stderr, "%s: pullboxd does not answer on 127.0.0.1:%ld\n", PROG, port);
            said_down = true;
            have_prev = false;
        } else {
            said_down = false;
            double dt = have_prev ? cur.at - prev.at : 0;
            if (dt > 0) {
                double v[GRAPH__COUNT] = {
                    [GRAPH_CONNECTIONS] = cur.connections,
                    [GRAPH_MESSAGES_RATE] = increase(cur.messages, prev.messages) / dt,
                    [GRAPH_DELIVERIES_RATE] = increase(cur.deliveries, prev.deliveries) / dt,
                    [GRAPH_MEMORY] = cur.memory,
                    [GRAPH_DROPS_RATE] = increase(cur.drops, prev.drops) / dt * 60,
                };
                if (graphring_add(fd, (long long)time(NULL), v, err, sizeof(err)) != 0) {
                    fprintf(stderr, "%s: %s: %s\n", PROG, file, err);
                    return 111;
                }
                n++;
            }
            prev = cur;
            have_prev = true;
        }
        if (count < 0 || n < count)
            sleep((unsigned)interval);
    }
    close(fd);
    return 0;
}
