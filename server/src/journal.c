#include "first.h"

#include "journal.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- encoding ---- */

uint32_t journal_crc32(const uint8_t *p, size_t n)
{
    /* CRC-32 (IEEE), table built on first use */
    static uint32_t table[256];
    static bool ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = true;
    }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void put_u16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_append(b, x, 2);
}

static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, x, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Frames the payload that starts at offset `start` of j->pending. */
static void seal(struct journal *j, size_t start)
{
    uint8_t *p = j->pending.data + start;
    uint32_t len = (uint32_t)(j->pending.len - start - JOURNAL_HEADER);
    uint32_t crc = journal_crc32(p + JOURNAL_HEADER, len);
    uint32_t h[3] = {JOURNAL_MAGIC, len, crc};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            p[4 * i + k] = (uint8_t)(h[i] >> (8 * k));
    j->records++;
}

/* Opens a record of `type` in j->pending: room for the header (filled by
 * seal) and the type byte. Returns the record's offset for seal. */
static size_t begin_record(struct journal *j, uint8_t type)
{
    struct buf *b = &j->pending;
    size_t start = b->len;
    buf_reserve(b, JOURNAL_HEADER);
    b->len += JOURNAL_HEADER;
    buf_append_byte(b, type);
    return start;
}

void journal_add_msg(struct journal *j, const struct journal_rec *r)
{
    struct buf *b = &j->pending;
    size_t start = begin_record(j, JOURNAL_REC_MSG);
    buf_append(b, r->mid, 26);
    put_u32(b, r->created);
    put_u32(b, r->expiry);
    put_u16(b, r->tag);
    buf_append_byte(b, r->sender_type);
    buf_append_byte(b, r->sender_id_len);
    buf_append(b, r->sender_id, r->sender_id_len);
    put_u16(b, r->n_channels);
    /* channels arrive as a (u8 length, bytes) list already */
    const uint8_t *c = r->channels;
    for (uint16_t i = 0; i < r->n_channels; i++) {
        buf_append(b, c, 1u + c[0]);
        c += 1u + c[0];
    }
    put_u32(b, r->body_len);
    buf_append(b, r->body, r->body_len);
    put_u32(b, r->user_params_len);
    buf_append(b, r->user_params, r->user_params_len);
    put_u32(b, r->dictionary_len);
    buf_append(b, r->dictionary, r->dictionary_len);
    seal(j, start);
    uint32_t until = r->created + r->expiry;
    struct journal_segment *active = &j->segs[j->n_segs - 1];
    if (until > active->last_expiry)
        active->last_expiry = until;
}

void journal_add_delete(struct journal *j, char *const *channels, size_t n)
{
    struct buf *b = &j->pending;
    size_t start = begin_record(j, JOURNAL_REC_DELETE);
    put_u16(b, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(channels[i]);
        buf_append_byte(b, (uint8_t)len);
        buf_append(b, channels[i], len);
    }
    seal(j, start);
}

/* A bounds-checked reader over one payload. */
struct rd {
    const uint8_t *p, *end;
    bool bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

/* The channel list of a record: u16 count, then (u8 length, bytes) each;
 * an empty id is never written, so it marks damage. */
static bool take_channels(struct rd *r, struct journal_rec *out)
{
    const uint8_t *k = take(r, 2);
    if (!k)
        return false;
    out->n_channels = get_u16(k);
    out->channels = r->p;
    for (uint16_t i = 0; i < out->n_channels; i++) {
        const uint8_t *l = take(r, 1);
        if (!l || l[0] == 0 || !take(r, l[0]))
            return false;
    }
    return true;
}

bool journal_decode(const uint8_t *p, size_t n, struct journal_rec *out)
{
    struct rd r = {p, p + n, false};
    memset(out, 0, sizeof *out);
    const uint8_t *t = take(&r, 1);
    if (!t)
        return false;
    out->type = t[0];
    if (out->type == JOURNAL_REC_DELETE)
        return take_channels(&r, out) && r.p == r.end;
    if (out->type != JOURNAL_REC_MSG)
        return false;
    const uint8_t *mid = take(&r, 26), *f = take(&r, 4 + 4 + 2 + 1 + 1);
    if (!mid || !f)
        return false;
    for (int i = 0; i < 26; i++)
        if (mid[i] < '0' || mid[i] > '9')
            return false;
    out->mid = (const char *)mid;
    out->created = get_u32(f);
    out->expiry = get_u32(f + 4);
    out->tag = get_u16(f + 8);
    out->sender_type = f[10];
    out->sender_id_len = f[11];
    if (out->sender_id_len > 16 || !(out->sender_id = take(&r, out->sender_id_len)) ||
        !take_channels(&r, out))
        return false;
    const uint8_t *bl = take(&r, 4);
    if (!bl)
        return false;
    out->body_len = get_u32(bl);
    out->body = take(&r, out->body_len);
    const uint8_t *ul = take(&r, 4);
    if (!ul)
        return false;
    out->user_params_len = get_u32(ul);
    out->user_params = (const char *)take(&r, out->user_params_len);
    const uint8_t *dl = take(&r, 4);
    if (!dl)
        return false;
    out->dictionary_len = get_u32(dl);
    out->dictionary = (const char *)take(&r, out->dictionary_len);
    if (!out->user_params_len)
        out->user_params = NULL;
    if (!out->dictionary_len)
        out->dictionary = NULL;
    return !r.bad && r.p == r.end;
}

/* ---- segments ---- */

static void seg_path(const struct journal *j, uint64_t seq, char *out, size_t n)
{
    snprintf(out, n, "%s/journal-%016" PRIu64 ".log", j->dir, seq);
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = ((const struct journal_segment *)a)->seq;
    uint64_t y = ((const struct journal_segment *)b)->seq;
    return x < y ? -1 : x > y;
}

int journal_open(struct journal *j, const char *dir, bool sync_always, uint64_t segment_size,
                 uint64_t max_size, char *err, size_t errlen)
{
    memset(j, 0, sizeof *j);
    j->fd = -1;
    j->dir = xstrdup(dir);
    j->sync_always = sync_always;
    j->segment_size = segment_size;
    j->max_size = max_size;
    buf_init(&j->pending);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "journal-path: %s: %s", dir, strerror(errno));
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "journal-path: %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t seq;
        char tail[8];
        if (sscanf(e->d_name, "journal-%16" SCNu64 ".%3s", &seq, tail) == 2 &&
            strcmp(tail, "log") == 0 && strlen(e->d_name) == 28) {
            j->segs = xrealloc(j->segs, (j->n_segs + 1) * sizeof *j->segs);
            j->segs[j->n_segs++] = (struct journal_segment){.seq = seq};
        }
    }
    closedir(d);
    if (j->n_segs)
        qsort(j->segs, j->n_segs, sizeof *j->segs, cmp_seq);
    return 0;
}

static int open_active(struct journal *j, char *err, size_t errlen)
{
    uint64_t seq = j->n_segs ? j->segs[j->n_segs - 1].seq + 1 : 1;
    char path[4200];
    seg_path(j, seq, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "journal-path: %s: %s", path, strerror(errno));
        return -1;
    }
    if (j->fd >= 0) {
        fdatasync(j->fd);
        close(j->fd);
    }
    j->fd = fd;
    j->segs = xrealloc(j->segs, (j->n_segs + 1) * sizeof *j->segs);
    j->segs[j->n_segs++] = (struct journal_segment){.seq = seq};
    /* the new file's directory entry must survive a power loss too */
    int dfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *p = xmalloc(n ? n : 1);
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return p;
}

size_t journal_scan(const uint8_t *data, size_t len,
                    void (*fn)(void *arg, const struct journal_rec *r), void *arg,
                    uint32_t *last_expiry, uint64_t *records)
{
    size_t off = 0;
    while (off < len) {
        struct journal_rec r;
        if (len - off < JOURNAL_HEADER)
            break;
        uint32_t magic = get_u32(data + off), plen = get_u32(data + off + 4);
        uint32_t crc = get_u32(data + off + 8);
        if (magic != JOURNAL_MAGIC || plen > JOURNAL_MAX_RECORD ||
            len - off - JOURNAL_HEADER < plen ||
            journal_crc32(data + off + JOURNAL_HEADER, plen) != crc ||
            !journal_decode(data + off + JOURNAL_HEADER, plen, &r))
            break;
        off += JOURNAL_HEADER + plen;
        (*records)++;
        if (r.type == JOURNAL_REC_MSG && r.created + r.expiry > *last_expiry)
            *last_expiry = r.created + r.expiry;
        fn(arg, &r);
    }
    return off;
}

int journal_replay(struct journal *j, void (*fn)(void *arg, const struct journal_rec *r), void *arg,
                   struct journal_replay_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    for (size_t i = 0; i < j->n_segs; i++) {
        char path[4200];
        seg_path(j, j->segs[i].seq, path, sizeof path);
        size_t len = 0;
        uint8_t *data = read_file(path, &len);
        if (!data) {
            snprintf(err, errlen, "journal-path: %s: %s", path, strerror(errno));
            return -1;
        }
        st->segments++;
        size_t off = journal_scan(data, len, fn, arg, &j->segs[i].last_expiry, &st->records);
        if (off < len) {
            /* a torn write (power loss mid-record) or damage: what follows
             * cannot be trusted, so the segment ends at the last good record */
            st->torn_bytes += len - off;
            log_warn("journal: %s: dropped %zu bytes of a damaged tail at offset %zu", path,
                     len - off, off);
            if (truncate(path, (off_t)off) != 0)
                log_syserr("journal: cannot cut %s", path);
        }
        j->segs[i].size = off;
        free(data);
    }
    return open_active(j, err, errlen);
}

int journal_flush(struct journal *j)
{
    if (j->pending.len) {
        size_t off = 0;
        while (off < j->pending.len) {
            ssize_t w = write(j->fd, j->pending.data + off, j->pending.len - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (!j->failed)
                    log_syserr("journal: write failed; publishes are refused until it works");
                j->failed = true;
                /* an incomplete record is cut at the next start; keep the
                 * unwritten rest for the next attempt */
                buf_consume(&j->pending, off);
                return -1;
            }
            off += (size_t)w;
        }
        j->segs[j->n_segs - 1].size += j->pending.len;
        j->bytes_written += j->pending.len;
        j->pending.len = 0;
        j->unsynced = true;
        if (j->failed)
            log_info("journal: writing again");
        j->failed = false;
    }
    if (j->sync_always)
        journal_sync(j);
    return 0;
}

void journal_sync(struct journal *j)
{
    if (!j->unsynced || j->fd < 0)
        return;
    if (fdatasync(j->fd) != 0) {
        log_syserr("journal: fdatasync failed");
        j->failed = true;
        return;
    }
    j->unsynced = false;
    j->syncs++;
}

void journal_maintain(struct journal *j, uint32_t now)
{
    char err[256];
    if (j->n_segs && j->segs[j->n_segs - 1].size >= j->segment_size && !j->pending.len) {
        journal_sync(j);
        if (open_active(j, err, sizeof err) != 0)
            log_err("journal: cannot start a new segment: %s", err);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < j->n_segs; i++)
        total += j->segs[i].size;
    /* sealed segments only (never the active, last one) */
    while (j->n_segs > 1) {
        struct journal_segment *old = &j->segs[0];
        bool expired = old->last_expiry <= now;
        bool over = j->max_size && total > j->max_size;
        if (!expired && !over)
            break;
        char path[4200];
        seg_path(j, old->seq, path, sizeof path);
        if (!expired)
            log_warn("journal: over journal-max-size: removing %s before its messages expire",
                     path);
        if (unlink(path) != 0 && errno != ENOENT) {
            log_syserr("journal: cannot remove %s", path);
            break;
        }
        total -= old->size;
        memmove(j->segs, j->segs + 1, (j->n_segs - 1) * sizeof *j->segs);
        j->n_segs--;
    }
}

void journal_close(struct journal *j)
{
    if (j->fd >= 0) {
        journal_flush(j);
        journal_sync(j);
        close(j->fd);
    }
    j->fd = -1;
    buf_deinit(&j->pending);
    free(j->segs);
    free(j->dir);
    j->segs = NULL;
    j->dir = NULL;
}
