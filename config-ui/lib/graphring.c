/* The graphs' ring file (see graphring.h). Layout, little-endian as the
 * machine writes it (the file never leaves the appliance):
 *   header: "PBGRAPH1", uint32 series count, uint32 tier count,
 *           then per tier uint32 step and uint32 slots (GRAPHRING_HEADER bytes)
 *   slots:  the hour tier's, then the day tier's; each
 *           int64 start, uint32 samples, float v[GRAPH__COUNT], uint32 checksum */
#include "graphring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GRAPHRING_MAGIC "PBGRAPH1"
#define GRAPHRING_HEADER 64

const struct graph_tier_def graph_tiers[GRAPH__TIERS] = {
    [GRAPH_HOUR] = {"hour", 10, 360},
    [GRAPH_DAY] = {"day", 300, 288},
};

struct graphring_slot {
    int64_t start; /* 0: empty */
    uint32_t samples;
    float v[GRAPH__COUNT];
    uint32_t sum; /* of the bytes before it */
};

static void graphring_header(unsigned char h[GRAPHRING_HEADER])
{
    uint32_t w[2 + 2 * GRAPH__TIERS] = {GRAPH__COUNT, GRAPH__TIERS};

    for (int i = 0; i < GRAPH__TIERS; i++) {
        w[2 + 2 * i] = (uint32_t)graph_tiers[i].step;
        w[3 + 2 * i] = (uint32_t)graph_tiers[i].slots;
    }
    memset(h, 0, GRAPHRING_HEADER);
    memcpy(h, GRAPHRING_MAGIC, 8);
    memcpy(h + 8, w, sizeof(w));
}

size_t graphring_file_size(void)
{
    size_t n = GRAPHRING_HEADER;

    for (int i = 0; i < GRAPH__TIERS; i++)
        n += graph_tiers[i].slots * sizeof(struct graphring_slot);
    return n;
}

static off_t graphring_offset(enum graph_tier tier, size_t idx)
{
    size_t off = GRAPHRING_HEADER;

    for (int i = 0; i < (int)tier; i++)
        off += graph_tiers[i].slots * sizeof(struct graphring_slot);
    return (off_t)(off + idx * sizeof(struct graphring_slot));
}

/* FNV-1a over the slot's bytes before its checksum. */
static uint32_t graphring_sum(const struct graphring_slot *s)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < offsetof(struct graphring_slot, sum); i++)
        h = (h ^ p[i]) * 16777619u;
    return h ? h : 1; /* an all-zero slot never checks */
}

static bool graphring_header_ok(int fd)
{
    unsigned char want[GRAPHRING_HEADER], got[GRAPHRING_HEADER];
    struct stat st;

    graphring_header(want);
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
           (size_t)st.st_size == graphring_file_size() &&
           pread(fd, got, sizeof(got), 0) == (ssize_t)sizeof(got) &&
           memcmp(want, got, sizeof(got)) == 0;
}

int graphring_open(const char *path, char *err, size_t errlen)
{
    unsigned char h[GRAPHRING_HEADER];
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);

    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (graphring_header_ok(fd))
        return fd;
    /* new, short, torn or of another layout: start afresh, all slots empty */
    graphring_header(h);
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)graphring_file_size()) != 0 ||
        pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        snprintf(err, errlen, "write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool graphring_slot_read(int fd, enum graph_tier tier, size_t idx, struct graphring_slot *s)
{
    return pread(fd, s, sizeof(*s), graphring_offset(tier, idx)) == (ssize_t)sizeof(*s) &&
           s->start != 0 && s->samples > 0 && s->sum == graphring_sum(s);
}

int graphring_add(int fd, long long t, const double v[GRAPH__COUNT], char *err, size_t errlen)
{
    if (t <= 0) {
        snprintf(err, errlen, "the clock says %lld", t);
        return -1;
    }
    for (int tier = 0; tier < GRAPH__TIERS; tier++) {
        const struct graph_tier_def *d = &graph_tiers[tier];
        long long start = t - t % d->step;
        size_t idx = (size_t)(start / d->step % (long long)d->slots);
        struct graphring_slot s;

        /* the same interval: a running average; else the slot is reused */
        if (!graphring_slot_read(fd, (enum graph_tier)tier, idx, &s) || s.start != start) {
            memset(&s, 0, sizeof(s));
            s.start = start;
        }
        for (int i = 0; i < GRAPH__COUNT; i++)
            s.v[i] = (float)((s.v[i] * (double)s.samples + v[i]) / (double)(s.samples + 1));
        s.samples++;
        s.sum = graphring_sum(&s);
        if (pwrite(fd, &s, sizeof(s), graphring_offset((enum graph_tier)tier, idx)) !=
            (ssize_t)sizeof(s)) {
            snprintf(err, errlen, "write: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

long graphring_read(const char *path, enum graph_tier tier, long long now, struct graph_point *out,
                    size_t max, char *err, size_t errlen)
{
    const struct graph_tier_def *d = &graph_tiers[tier];
    long long span = d->step * (long long)d->slots;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    size_t n = 0;

    if (fd < 0) {
        snprintf(err, errlen, "no figures yet (%s: %s)", path, strerror(errno));
        return -1;
    }
    if (!graphring_header_ok(fd)) {
        snprintf(err, errlen, "%s is not a graphs file of this version", path);
        close(fd);
        return -1;
    }
    /* walk the window oldest first: each interval has one place */
    long long first = now - span + d->step;
    first -= first % d->step;
    for (long long start = first; start <= now && n < max; start += d->step) {
        struct graphring_slot s;
        size_t idx = (size_t)(start / d->step % (long long)d->slots);
        if (!graphring_slot_read(fd, tier, idx, &s) || s.start != start)
            continue;
        out[n].t = start;
        for (int i = 0; i < GRAPH__COUNT; i++)
            out[n].v[i] = s.v[i];
        n++;
    }
    close(fd);
    return (long)n;
}
