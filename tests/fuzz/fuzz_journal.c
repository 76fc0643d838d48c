/* Journal segments as read back at start-up (journal_scan, the part of
 * journal_replay that reads a segment file's bytes). Input: the segment.
 * Properties: the records reported, encoded again by the writer
 * (journal_add_msg, journal_add_delete), are byte for byte the good prefix
 * the scan kept, so what survives a restart is exactly what was written;
 * nothing after the first bad record is reported; last_expiry is the newest
 * created + expiry. */
#include "../../server/src/buf.c"
#include "../../server/src/journal.c"
#include "../../server/src/log.c"
#include "../../server/src/util.c"

#include "fuzz.h"

struct seen {
    struct journal j;
    uint32_t newest;
    bool exact; /* false once a record cannot be re-encoded by the writer's API */
};

static void on_rec(void *arg, const struct journal_rec *r)
{
    struct seen *s = arg;
    FUZZ_CHECK(r->type == JOURNAL_REC_MSG || r->type == JOURNAL_REC_DELETE);
    if (r->type == JOURNAL_REC_MSG) {
        FUZZ_CHECK(r->sender_id_len <= 16);
        if (r->created + r->expiry > s->newest)
            s->newest = r->created + r->expiry;
        journal_add_msg(&s->j, r);
        return;
    }
    /* deletes are written from C strings: an id with a NUL cannot come back */
    char **ids = calloc(r->n_channels + 1, sizeof *ids);
    const uint8_t *c = r->channels;
    for (uint16_t i = 0; i < r->n_channels; i++) {
        FUZZ_CHECK(c[0] > 0);
        ids[i] = strndup((const char *)c + 1, c[0]);
        if (strlen(ids[i]) != c[0])
            s->exact = false;
        c += 1u + c[0];
    }
    journal_add_delete(&s->j, ids, r->n_channels);
    for (uint16_t i = 0; i < r->n_channels; i++)
        free(ids[i]);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct journal_segment seg;
    struct seen s;
    memset(&s, 0, sizeof s);
    buf_init(&s.j.pending);
    s.j.segs = &seg;
    s.j.n_segs = 1;
    s.exact = true;
    uint8_t *p = malloc(size ? size : 1);
    memcpy(p, data, size);

    uint32_t last = 0;
    uint64_t records = 0;
    size_t off = journal_scan(p, size, on_rec, &s, &last, &records);
    FUZZ_CHECK(off <= size && records == s.j.records);
    FUZZ_CHECK(last == s.newest);
    if (s.exact)
        FUZZ_CHECK(s.j.pending.len == off && (off == 0 || memcmp(s.j.pending.data, p, off) == 0));
    else
        FUZZ_CHECK(s.j.pending.len == off || s.j.pending.len < off);

    /* what follows the good prefix does not start with a good record */
    uint32_t last2 = 0;
    uint64_t more = 0;
    struct seen t;
    memset(&t, 0, sizeof t);
    buf_init(&t.j.pending);
    t.j.segs = &seg;
    t.j.n_segs = 1;
    t.exact = true;
    FUZZ_CHECK(journal_scan(p + off, size - off, on_rec, &t, &last2, &more) == 0 && more == 0);
    buf_deinit(&t.j.pending);
    buf_deinit(&s.j.pending);
    free(p);
    return 0;
}
