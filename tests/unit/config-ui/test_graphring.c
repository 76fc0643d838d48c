/* Unit tests for config-ui/lib/graphring.c: the Status page's figures on
 * /data, against a real file: a fixed size however long it is written,
 * wrap-around, averages within a slot, a short or foreign file, a torn
 * slot, and a clock that jumps back or forth. */
#include "graphring.h"

#include "tap.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1800000000LL /* a round start: a multiple of both steps */

static char path[256], err[256];
static struct graph_point pts[400];

static void sample(int fd, long long t, double x)
{
    double v[GRAPH__COUNT];
    for (int i = 0; i < GRAPH__COUNT; i++)
        v[i] = x + i;
    if (graphring_add(fd, t, v, err, sizeof(err)) != 0)
        ok(0, err);
}

static long long file_size(void)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void test_wraparound(void)
{
    unlink(path);
    int fd = graphring_open(path, err, sizeof(err));
    ok(fd >= 0, "a new file is made");
    ok(file_size() == (long long)graphring_file_size(), "at its fixed size");
    ok(graphring_read(path, GRAPH_HOUR, T0, pts, 400, err, sizeof(err)) == 0, "and holds nothing");
    /* 3 hours every 10 s: the hour ring goes round three times */
    for (long long t = T0; t < T0 + 3 * 3600; t += 10)
        sample(fd, t, (double)(t - T0));
    long long now = T0 + 3 * 3600 - 10;
    ok(file_size() == (long long)graphring_file_size(), "three hours later the size is the same");
    long n = graphring_read(path, GRAPH_HOUR, now, pts, 400, err, sizeof(err));
    ok(n == 360, "the hour holds 360 points");
    ok(n == 360 && pts[0].t == now - 3590 && pts[359].t == now, "oldest first, the last hour only");
    ok(n == 360 && pts[359].v[0] == (double)(now - T0) && pts[359].v[2] == (double)(now - T0) + 2,
       "each series keeps its own value");
    n = graphring_read(path, GRAPH_DAY, now, pts, 400, err, sizeof(err));
    ok(n == 36, "the day holds one point per 5 minutes written (36)");
    /* a 5-minute slot is the average of its thirty 10 s samples */
    ok(n == 36 && pts[0].t == T0 && pts[0].v[0] == 145.0, "a day slot averages its samples");
    ok(graphring_read(path, GRAPH_HOUR, now, pts, 5, err, sizeof(err)) == 5, "max bounds the answer");
    close(fd);
}

static void test_short_and_foreign(void)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    ok(fd >= 0 && write(fd, "PBGRAPH1", 8) == 8, "the file is cut short (8 bytes)");
    close(fd);
    ok(graphring_read(path, GRAPH_HOUR, T0, pts, 400, err, sizeof(err)) == -1 &&
           strstr(err, "not a graphs file"),
       "a short file is refused by the reader");
    fd = graphring_open(path, err, sizeof(err));
    ok(fd >= 0 && file_size() == (long long)graphring_file_size(), "the sampler starts it afresh");
    ok(graphring_read(path, GRAPH_HOUR, T0, pts, 400, err, sizeof(err)) == 0, "empty");
    close(fd);
    fd = open(path, O_WRONLY);
    ok(fd >= 0 && pwrite(fd, "PBGRAPH9", 8, 0) == 8, "another layout's header");
    close(fd);
    ok(graphring_read(path, GRAPH_HOUR, T0, pts, 400, err, sizeof(err)) == -1,
       "is refused too");
    fd = graphring_open(path, err, sizeof(err));
    ok(fd >= 0, "and started afresh");
    close(fd);
}

static void test_torn_slot(void)
{
    unlink(path);
    int fd = graphring_open(path, err, sizeof(err));
    for (long long t = T0; t < T0 + 100; t += 10)
        sample(fd, t, 1);
    ok(graphring_read(path, GRAPH_HOUR, T0 + 90, pts, 400, err, sizeof(err)) == 10, "ten points");
    /* the slot of T0 + 50 is the 6th of the hour's ring (T0 is a multiple of 3600) */
    long long idx = (T0 + 50) / 10 % 360;
    off_t off = 64 + (off_t)idx * (off_t)((graphring_file_size() - 64) / (360 + 288));
    ok(pwrite(fd, "\xff\xff\xff", 3, off + 14) == 3, "three bytes of a slot torn");
    long n = graphring_read(path, GRAPH_HOUR, T0 + 90, pts, 400, err, sizeof(err));
    bool gone = n == 9;
    for (long i = 0; i < n; i++)
        gone &= pts[i].t != T0 + 50;
    ok(gone, "the torn slot reads as empty, the others as written");
    sample(fd, T0 + 50, 7);
    ok(graphring_read(path, GRAPH_HOUR, T0 + 90, pts, 400, err, sizeof(err)) == 10,
       "a new sample in its interval makes it good again");
    close(fd);
}

static void test_clock_jumps(void)
{
    unlink(path);
    int fd = graphring_open(path, err, sizeof(err));
    for (long long t = T0; t < T0 + 600; t += 10)
        sample(fd, t, 1);
    /* back by half an hour: the newer slots are in the reader's future */
    long long back = T0 - 1800;
    sample(fd, back, 2);
    long n = graphring_read(path, GRAPH_HOUR, back, pts, 400, err, sizeof(err));
    ok(n == 1 && pts[0].t == back && pts[0].v[0] == 2.0,
       "after a jump back only what was written at the new time shows");
    /* forward by two days: everything before is out of both windows */
    long long fwd = T0 + 2 * 86400;
    sample(fd, fwd, 3);
    ok(graphring_read(path, GRAPH_HOUR, fwd, pts, 400, err, sizeof(err)) == 1 &&
           graphring_read(path, GRAPH_DAY, fwd, pts, 400, err, sizeof(err)) == 1,
       "after a jump forward only the new sample shows, in both tiers");
    ok(file_size() == (long long)graphring_file_size(), "and the size never changed");
    ok(graphring_add(fd, 0, pts[0].v, err, sizeof(err)) == -1, "a clock at 0 is refused");
    close(fd);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/pb-graphring-%d", (int)getpid());
    test_wraparound();
    test_short_and_foreign();
    test_torn_slot();
    test_clock_jumps();
    unlink(path);
    return done_testing();
}
