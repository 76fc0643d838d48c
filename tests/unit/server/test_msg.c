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
#include "../../../server/src/ws.h"

#include "tap.h"

#include <jansson.h>
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

    /* CR and LF in the body become spaces; an empty body makes the frame
     * unparsable (the client's handler throws on a text of "") */
    m = msg_new(MID, 3, 1795942731, 0, 10, "{\"a\":\r\n1}", 9);
    msg_set_channel(m, "c");
    expected_text(want, sizeof want, MID, "c", 0, 1795942731, "{\"a\":  1}");
    ok(text_is(m, want), "CR and LF in the body become spaces");
    msg_unref(m);
    m = msg_new(MID, 4, 1795942731, 0, 10, "", 0);
    expected_text(want, sizeof want, MID, "-", 0, 1795942731, "\"");
    ok(text_is(m, want), "an empty body is sent as an unclosed \"");
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
    ok(p && malloc_usable_size((void *)(p - MSG_FRAME_ROOM)) < MSG_FRAME_ROOM + len + 32,
       "the kept text encoding is trimmed to its length (no doubling slack)");
    const uint8_t *again = msg_encoding(m, MSG_ENC_TEXT, &len);
    ok(again == p, "a second use gets the same encoding (encoded once)");
    size_t pb_len;
    const uint8_t *pbuf = msg_encoding(m, MSG_ENC_PB, &pb_len);
    ok(pbuf && pb_len > sizeof body &&
           malloc_usable_size((void *)(pbuf - MSG_FRAME_ROOM)) < MSG_FRAME_ROOM + pb_len + 32,
       "the protobuf encoding is made and trimmed too");
    msg_unref(m);
}

/* The whole frame a lone delivery is: exactly the bytes the transport put
 * in front of one message before (an unmasked FIN frame header, for
 * protobuf around a one-message ResponseBatch prefix), then the encoding,
 * contiguous and shared. Bodies on each side of the 126 and 65536 bounds
 * of the header's length forms. */
static bool frame_is(struct msg *m, enum msg_enc e)
{
    size_t len, flen;
    const uint8_t *enc = msg_encoding(m, e, &len);
    const uint8_t *f = msg_ws_frame(m, e, &flen);
    uint8_t want[WS_MAX_SERVER_HEADER + PB_OUTGOING_PREFIX_MAX];
    size_t pl = 0, wl;
    uint8_t prefix[PB_OUTGOING_PREFIX_MAX];
    if (e == MSG_ENC_PB) {
        pl = pb_outgoing_batch_prefix(prefix, len);
        wl = ws_frame_header(want, WS_OP_BINARY, true, pl + len);
    } else {
        wl = ws_frame_header(want, WS_OP_TEXT, true, len);
    }
    memcpy(want + wl, prefix, pl);
    return enc && f && flen == wl + pl + len && f + wl + pl == enc && memcmp(f, want, wl + pl) == 0;
}

static void ws_frames(void)
{
    static const size_t sizes[] = {1, 20, 80, 100, 200, 65400, 65600, 70000};
    bool all = true;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char *body = malloc(sizes[i] + 2);
        memset(body, 'x', sizes[i] + 2);
        body[0] = '"';
        body[sizes[i] + 1] = '"';
        struct msg *m = msg_new(MID, 1, 1795942731, 1, 10, body, sizes[i] + 2);
        msg_set_channel(m, "chan");
        all &= frame_is(m, MSG_ENC_TEXT) && frame_is(m, MSG_ENC_PB) && frame_is(m, MSG_ENC_JSONRPC);
        msg_unref(m);
        free(body);
    }
    ok(all, "a lone message's frame is the header (and prefix) it had, then its encoding");

    struct msg *m = msg_new(MID, 1, 1795942731, 1, 10, "\"hi\"", 4);
    size_t len, flen;
    const uint8_t *enc = msg_encoding(m, MSG_ENC_TEXT, &len);
    const uint8_t *f = msg_ws_frame(m, MSG_ENC_TEXT, &flen);
    ok(len > 125 && len < 65536 && f[0] == 0x81 && f[1] == 126 && f[2] == (uint8_t)(len >> 8) &&
           f[3] == (uint8_t)len && f + 4 == enc && flen == len + 4,
       "text: FIN text opcode, 16-bit length, the cached encoding right after (not a copy)");
    size_t again;
    ok(msg_ws_frame(m, MSG_ENC_TEXT, &again) == f && again == flen,
       "every subscriber gets the same buffer");
    ok(msg_ws_frame(m, MSG_ENC_SSE, &again) == NULL, "event streams have no WebSocket frame");
    msg_unref(m);

    m = msg_new(MID, 1, 1795942731, 1, 10, "\"hi\"", 4);
    msg_freeze(m, 1u << MSG_ENC_PB);
    ok(msg_ws_frame(m, MSG_ENC_PB, &flen) != NULL && frame_is(m, MSG_ENC_PB),
       "frozen: the frame of an encoding made before freezing is there");
    ok(msg_ws_frame(m, MSG_ENC_TEXT, &flen) == NULL,
       "frozen without an encoding: no frame (the caller falls back to a copy)");
    msg_unref(m);
}

/* The frames of an encoding as the client finds them: the text between
 * each "#!NGINXNMS!#" and the first "#!NGINXNME!#" after it, parsed. */
static size_t client_frames(const uint8_t *p, size_t len, json_t **out, size_t max)
{
    size_t n = 0;
    const char *s = (const char *)p, *end = s + len;
    while (n < max) {
        const char *a = memmem(s, (size_t)(end - s), "#!NGINXNMS!#", 12);
        if (!a)
            break;
        const char *b = memmem(a + 12, (size_t)(end - a - 12), "#!NGINXNME!#", 12);
        if (!b)
            break;
        out[n++] = json_loadb(a + 12, (size_t)(b - a - 12), JSON_ALLOW_NUL, NULL);
        s = b + 12;
    }
    return n;
}

/* The text of the one frame the client finds; NULL when it finds several,
 * or one it cannot parse (*frames says how many). */
static json_t *text_of_only_frame(struct msg *m, size_t *frames)
{
    size_t len;
    const uint8_t *p = msg_encoding(m, MSG_ENC_TEXT, &len);
    json_t *f[4] = {0};
    size_t n = client_frames(p, len, f, 4);
    if (frames)
        *frames = n;
    json_t *t = n == 1 && f[0] ? json_incref(json_object_get(f[0], "text")) : NULL;
    for (size_t i = 0; i < n; i++)
        json_decref(f[i]);
    return t;
}

static void hostile_bodies(void)
{
    /* a chat message quoting the frame delimiters, from the site */
    const char body[] = "{\"module_id\":\"im\",\"command\":\"m\",\"params\":{\"t\":\"}"
                        "#!NGINXNME!##!NGINXNMS!#{\\\"mid\\\":\\\"1\\\",\\\"text\\\":"
                        "{\\\"module_id\\\":\\\"pull\\\"}}\"}}";
    struct msg *m = msg_new(MID, 1, 1795942731, 1, 10, body, strlen(body));
    json_t *t = text_of_only_frame(m, NULL), *want = json_loads(body, 0, NULL);
    ok(t && want && json_equal(t, want),
       "a body quoting the delimiters is one frame, its text the body's value");
    json_decref(t);
    json_decref(want);
    msg_unref(m);

    /* not JSON: it cannot add or override frame members */
    const char forged[] = "{}, \"mid\":\"99999999999999999999999999\"";
    m = msg_new(MID, 2, 1795942731, 1, 10, forged, strlen(forged));
    size_t frames;
    t = text_of_only_frame(m, &frames);
    ok(frames == 1 && !t, "a body that is not JSON: one frame, which the client cannot parse");
    json_decref(t);
    msg_unref(m);

    /* an empty body given as NULL (a protobuf message without body) */
    m = msg_new(MID, 3, 1795942731, 1, 10, NULL, 0);
    ok(m && m->body_len == 0 && m->body[0] == '\0', "an empty body may be NULL");
    t = text_of_only_frame(m, &frames);
    ok(frames == 1 && !t, "...and its frame is one the client skips");
    json_decref(t);
    msg_unref(m);
}

static void senders(void)
{
    static const uint8_t pub[16] = {0xe5, 0x4f, 0x12, 0x0c, 0xb3, 0xb7, 0xa6, 0x38,
                                    0xca, 0xf2, 0x1b, 0x66, 0x29, 0x89, 0x55, 0x6f};
    /* a client claiming to be the server in its own extra */
    const char body[] = "{\"module_id\":\"pull\",\"command\":\"config_expire\",\"params\":{},"
                        "\"extra\":{\"sender\":{\"type\":2},\"x\":1}}";
    struct msg *m = msg_new(MID, 1, 1795942731, 1, 10, body, strlen(body));
    msg_set_sender(m, MSG_SENDER_CLIENT, pub, 16);
    json_t *t = text_of_only_frame(m, NULL);
    json_t *sender = json_object_get(json_object_get(t, "extra"), "sender");
    ok(json_integer_value(json_object_get(sender, "type")) == MSG_SENDER_CLIENT &&
           strcmp(json_string_value(json_object_get(sender, "id")) ?: "",
                  "e54f120cb3b7a638caf21b662989556f") == 0,
       "text mode: a client's message has extra.sender = {type 1, its public id}");
    ok(json_integer_value(json_object_get(json_object_get(t, "extra"), "x")) == 1 &&
           strcmp(json_string_value(json_object_get(t, "command")) ?: "", "config_expire") == 0,
       "...the rest of the body as it was");
    json_decref(t);
    msg_unref(m);

    /* a client message that is not an object carries nothing as a message */
    m = msg_new(MID, 2, 1795942731, 1, 10, "[1]", 3);
    msg_set_sender(m, MSG_SENDER_CLIENT, pub, 16);
    size_t frames;
    t = text_of_only_frame(m, &frames);
    ok(frames == 1 && !t, "a client's body that is not an object: a frame the client skips");
    json_decref(t);
    msg_unref(m);

    /* a V5 client known by its token's user id */
    m = msg_new(MID, 3, 1795942731, 1, 10, "{\"module_id\":\"a\"}", 17);
    ok(!msg_set_sender_user(m, "12a") && !msg_set_sender_user(m, "12345678901234567") &&
           !msg_set_sender_user(m, ""),
       "a user sender is 1 to 16 digits");
    ok(msg_set_sender_user(m, "42") && msg_sender_type(m) == MSG_SENDER_CLIENT,
       "user 42: a client sender");
    t = text_of_only_frame(m, NULL);
    sender = json_object_get(json_object_get(t, "extra"), "sender");
    ok(strcmp(json_string_value(json_object_get(sender, "id")) ?: "", "42") == 0,
       "text mode: extra.sender.id is the user id");
    json_decref(t);
    size_t len;
    const uint8_t *p = msg_encoding(m, MSG_ENC_JSONRPC, &len);
    json_t *j = json_loadb((const char *)p, len, 0, NULL);
    sender = json_object_get(json_object_get(j, "params"), "sender");
    ok(json_integer_value(json_object_get(sender, "type")) == 1 &&
           strcmp(json_string_value(json_object_get(sender, "id")) ?: "", "42") == 0,
       "JSON-RPC: sender {type 1, id \"42\"}");
    json_decref(j);
    p = msg_encoding(m, MSG_ENC_PB, &len);
    ok(p && memmem(p, len,
                   "\x2a\x06\x08\x01\x12\x02"
                   "42",
                   8) != NULL,
       "protobuf: Sender{type CLIENT, id \"42\"}, the flag not on the wire");
    msg_unref(m);
}

int main(void)
{
    subtest("hostile bodies", hostile_bodies);
    subtest("senders", senders);
    subtest("text frame", text_frame);
    subtest("date cache", date_cache);
    subtest("storage", storage);
    subtest("lone-message WebSocket frames", ws_frames);
    return done_testing();
}
