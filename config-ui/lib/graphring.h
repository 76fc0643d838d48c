/* The Status page's graphs: a fixed-size ring file of pullboxd's figures
 * at two resolutions (every 10 s for the last hour, every 5 min for the
 * last day). pullbox-sampler adds one sample at a time; the wizard reads a
 * window. The file never grows: its size is fixed by the layout below,
 * whatever is written, for how long, and whatever the clock does.
 *
 * Each slot holds the average of the samples that fell in its interval and
 * the interval's start; a slot's place in its ring follows from that start,
 * so a clock that jumps back or forth only leaves slots that a reader skips
 * (outside the window it asks for) until they are overwritten. Each slot
 * carries a checksum: a slot torn by a power loss reads as empty. A file of
 * the wrong size or header (short, foreign, an older layout) is started
 * afresh. */
#ifndef PULLBOX_CFG_GRAPHRING_H
#define PULLBOX_CFG_GRAPHRING_H

#include <stddef.h>
#include <stdint.h>

enum graph_series {
    GRAPH_CONNECTIONS,     /* open subscriber connections */
    GRAPH_MESSAGES_RATE,   /* messages published per second */
    GRAPH_DELIVERIES_RATE, /* messages delivered to subscribers per second */
    GRAPH_MEMORY,          /* pullboxd's resident memory, bytes */
    GRAPH_DROPS_RATE,      /* subscriber connections dropped per minute */
    GRAPH__COUNT
};

enum graph_tier {
    GRAPH_HOUR, /* 360 slots of 10 s */
    GRAPH_DAY,  /* 288 slots of 300 s */
    GRAPH__TIERS
};

struct graph_tier_def {
    const char *name; /* "hour" */
    long step;        /* seconds per slot */
    size_t slots;
};
extern const struct graph_tier_def graph_tiers[GRAPH__TIERS];

struct graph_point {
    long long t; /* the slot's start, unix seconds */
    double v[GRAPH__COUNT];
};

/* The file's size in bytes (always the same). */
size_t graphring_file_size(void);

/* Opens path for adding samples, making it (mode 0640) or starting it
 * afresh when its size or header is wrong. The descriptor, or -1 with err. */
int graphring_open(const char *path, char *err, size_t errlen);

/* Adds one sample taken at unix time t to both tiers. 0, or -1 with err. */
int graphring_add(int fd, long long t, const double v[GRAPH__COUNT], char *err, size_t errlen);

/* The slots of tier whose start lies in (now - span, now], oldest first,
 * at most max. Missing, torn and future slots are left out. Returns the
 * count, or -1 with err when the file cannot be read or is not a ring
 * (then nothing is shown, and the sampler will start it afresh). */
long graphring_read(const char *path, enum graph_tier tier, long long now, struct graph_point *out,
                    size_t max, char *err, size_t errlen);

#endif
