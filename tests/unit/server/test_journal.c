/* Journal record encoding: round trip, the CRC-32 check value, and every
 * truncation or byte flip of a record rejected (by length, checksum or
 * decoder), never read out of bounds (ASan). */
#include "../../../server/src/buf.c"
#include "../../../server/src/journal.c"
#include "../../../server/src/log.c"
#include "../../../server/src/util.c"
#include "tap.h"

static struct journal j;
static struct journal_segment seg;

static void setup(void)
{
    memset(&j, 0, sizeof j);
    buf_init(&j.pending);
    j.segs = &seg;
    j.n_segs = 1;
}

static void test_crc(void)
{
    ok(journal_crc32((const uint8_t *)"123456789", 9) == 0xCBF43926u, "CRC-32 check value");
    ok(journal_crc32(NULL, 0) == 0, "CRC-32 of nothing");
}

static struct journal_rec sample(uint8_t *chans)
{
    /* two channels: "abc" and "u:42" */
    memcpy(chans,
           "\x03"
           "abc"
           "\x04"
           "u:42",
           9);
    static const uint8_t sid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    struct journal_rec r = {
        .type = JOURNAL_REC_MSG,
        .mid = "17959135750000000000000042",
        .created = 1795913575,
        .expiry = 86400,
        .tag = 7,
        .sender_type = 1,
        .sender_id_len = 16,
        .sender_id = sid,
        .n_channels = 2,
        .channels = chans,
        .body = (const uint8_t *)"{\"module_id\":\"im\"}",
        .body_len = 18,
        .user_params = "{\"42\":{}}",
        .user_params_len = 9,
    };
    return r;
}

static void test_round_trip(void)
{
    setup();
    uint8_t chans[16];
    struct journal_rec in = sample(chans), out;
    journal_add_msg(&j, &in);
    const uint8_t *p = j.pending.data;
    uint32_t len = get_u32(p + 4);
    ok(get_u32(p) == JOURNAL_MAGIC, "magic");
    ok(len + JOURNAL_HEADER == j.pending.len, "length covers the payload");
    ok(journal_crc32(p + JOURNAL_HEADER, len) == get_u32(p + 8), "checksum matches");
    ok(journal_decode(p + JOURNAL_HEADER, len, &out), "decodes");
    ok(memcmp(out.mid, in.mid, 26) == 0 && out.created == in.created && out.expiry == in.expiry &&
           out.tag == 7 && out.sender_type == 1 && out.sender_id_len == 16 &&
           memcmp(out.sender_id, in.sender_id, 16) == 0,
       "header fields survive");
    ok(out.n_channels == 2 && memcmp(out.channels, chans, 9) == 0, "channel list survives");
    ok(out.body_len == 18 && memcmp(out.body, in.body, 18) == 0, "body survives");
    ok(out.user_params_len == 9 && memcmp(out.user_params, "{\"42\":{}}", 9) == 0 &&
           out.dictionary == NULL,
       "V5 fields survive, absent ones stay NULL");
    ok(seg.last_expiry == in.created + in.expiry, "the segment learns its newest expiry");
    buf_deinit(&j.pending);
}

static void test_damage(void)
{
    setup();
    uint8_t chans[16];
    struct journal_rec in = sample(chans), out;
    journal_add_msg(&j, &in);
    size_t n = j.pending.len - JOURNAL_HEADER;
    int accepted = 0;
    for (size_t cut = 0; cut < n; cut++) {
        /* an exact-size heap copy: reading past it is an ASan error */
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, j.pending.data + JOURNAL_HEADER, cut);
        accepted += journal_decode(copy, cut, &out);
        free(copy);
    }
    ok(accepted == 0, "every truncated payload is rejected");
    int undetected = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *copy = malloc(n);
            memcpy(copy, j.pending.data + JOURNAL_HEADER, n);
            copy[i] ^= (uint8_t)(1u << bit);
            bool crc_ok = journal_crc32(copy, n) == get_u32(j.pending.data + 8);
            undetected += crc_ok;
            journal_decode(copy, n, &out); /* must not crash whatever it says */
            free(copy);
        }
    }
    ok(undetected == 0, "every single-bit flip changes the checksum");
    uint8_t garbage[64];
    for (int i = 0; i < 64; i++)
        garbage[i] = (uint8_t)(i * 37 + 11);
    ok(!journal_decode(garbage, sizeof garbage, &out), "garbage is not a record");
    buf_deinit(&j.pending);
}

static void test_delete_record(void)
{
    setup();
    char *ids[] = {"abc", "0123456789abcdef0123456789abcdef"};
    journal_add_delete(&j, ids, 2);
    struct journal_rec out;
    uint32_t len = get_u32(j.pending.data + 4);
    ok(journal_decode(j.pending.data + JOURNAL_HEADER, len, &out) &&
           out.type == JOURNAL_REC_DELETE && out.n_channels == 2 && out.channels[0] == 3 &&
           memcmp(out.channels + 1, "abc", 3) == 0,
       "delete records round-trip");
    buf_deinit(&j.pending);
}

int main(void)
{
    subtest("crc32", test_crc);
    subtest("round trip", test_round_trip);
    subtest("damage", test_damage);
    subtest("delete record", test_delete_record);
    return done_testing();
}
