/* Unit tests for server/src/msg.c: the text frame each subscriber parses
 * (the Bitrix client reads it with a regex, so every byte matters), the
 * date cache across seconds, the body kept in the message's own block, and
 * encodings trimmed to their length. */
#include "../../../server/src/first.h"

#include "../../../server/src/buf.c"
#include "../../../server/src/jsontext.c"
#include "../../../server/src/msg.c"
#include "../../../server/src/pb.c"
#include "../../../server/src/util.c"

#include "tap.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

static const char MID[] = "17959427310000000000000053";

/* The frame as the format string of Push server 1.0 gives it. */
static void expected_text(char *out, size_t n, const char *mid, const char *channel, unsigned tag,
                          uint32_t created, const char *text)
{
    char date[30];
    msg_http_date(created, date);
    unsigned long long id = strtoull(mid + 10, NULL, 10);
    snprintf(out, n,
             "#!NGINXNMS!#{\"id\":%llu,\"mid\":\"%s\",\"channel\":\"%s\",\"tag\":\"%u\","
             "\"time\":\"%s\",\"eventid\":\"\",\"text\":%s}#!NGINXNME!#",
             id, mid, channel, tag, date, text);
}

static bool text_is(struct msg *m, const char *want)
{
    size_t len;
    const uint8_t *p = msg_encoding(m, MSG_ENC_TEXT, &len);
    bool same = p && len == strlen(want) && memcmp(p, want, len) == 0;
    if (!same)
        printf("# got  %.*s\n# want %s\n", p ? (int)len : 0, p ? (const char *)p : "", want);
    return same;
}

static void text_frame(void)
{
    char want[1024];
    const char body[] = "{\"module_id\":\"im\",\"command\":\"message\",\"params\":{\"a\":\"b\"}}";
    struct msg *m = msg_new(MID, 1, 1795942731, 7, 86400, body, strlen(body));
    msg_set_channel(m, "e54f120cb3b7a638caf21b662989556f");
    expected_text(want, sizeof want, MID, "e54f120cb3b7a638caf21b662989556f", 7, 1795942731, body);
    ok(text_is(m, want), "text frame: id is the mid's counter, then mid, channel, tag, date, body");
    msg_unref(m);

    /* the counter's leading zeros go, a zero counter stays one digit */
    const char *mids[] = {"17959427311000000000000000", "17959427310000000000000000",
                          "17959427319999999999999999"};
    for (size_t i = 0; i < sizeof mids / sizeof *mids; i++) {
        m = msg_new(mids[i], 2, 1795942731, 65535, 10, "1", 1);
        expected_text(want, sizeof want, mids[i], "-", 65535, 1795942731, "1");
        char what[96];
        snprintf(what, sizeof what, "id of mid %s, no channel: \"-\", tag 65535", mids[i]);
        ok(text_is(m, want), what);
        msg_unref(m);
    }

    /* CR and LF in the body become spaces; an empty body is "" */
    m = msg_new(MID, 3, 1795942731, 0, 10, "{\"a\":\r\n1}", 9);
    msg_set_channel(m, "c");
    expected_text(want, sizeof want, MID, "c", 0, 1795942731, "{\"a\":  1}");
    ok(text_is(m, want), "CR and LF in the body become spaces");
    msg_unref(m);
    m = msg_new(MID, 4, 1795942731, 0, 10, "", 0);
    expected_text(want, sizeof want, MID, "-", 0, 1795942731, "\"\"");
    ok(text_is(m, want), "an empty body is sent as \"\"");
    msg_unref(m);
}

static void date_cache(void)
{
    /* messages of different seconds, interleaved: each gets its own date */
    uint32_t times[] = {1795942731, 1795942732, 1795942731, 0, 4102444799u};
    int good = 0;
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        char want[512];
        struct msg *m = msg_new(MID, i + 1, times[i], 1, 10, "1", 1);
        expected_text(want, sizeof want, MID, "-", 1, times[i], "1");
        good += text_is(m, want);
        msg_unref(m);
    }
    ok(good == 5, "the date follows each message's own second (cached per second)");
    char d[30];
    msg_http_date(1795942731, d);
    ok(strcmp(d, "Sun, 29 Nov 2026 08:58:51 GMT") == 0, "RFC 1123 date");
}

static void storage(void)
{
    char body[300];
    memset(body, 'x', sizeof body);
    body[0] = '"';
    body[sizeof body - 1] = '"';
    struct msg *m = msg_new(MID, 1, 1795942731, 1, 10, body, sizeof body);
    ok(m->body == (uint8_t *)(m + 1) && memcmp(m->body, body, sizeof body) == 0 &&
           m->body[sizeof body] == '\0',
       "the body is copied into the message's own block, NUL-terminated");
    size_t len;
    const uint8_t *p = msg_encoding(m, MSG_ENC_TEXT, &len);
    ok(p && malloc_usable_size((void *)p) < len + 32,
       "the kept text encoding is trimmed to its length (no doubling slack)");
    const uint8_t *again = msg_encoding(m, MSG_ENC_TEXT, &len);
    ok(again == p, "a second use gets the same encoding (encoded once)");
    size_t pb_len;
    const uint8_t *pbuf = msg_encoding(m, MSG_ENC_PB, &pb_len);
    ok(pbuf && pb_len > sizeof body && malloc_usable_size((void *)pbuf) < pb_len + 32,
       "the protobuf encoding is made and trimmed too");
    msg_unref(m);
}

int main(void)
{
    subtest("text frame", text_frame);
    subtest("date cache", date_cache);
    subtest("storage", storage);
    return done_testing();
}
