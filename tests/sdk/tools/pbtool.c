/* pbtool: drives server/src/pb.c from the command line so that tests can check it
 * against another protobuf implementation (the SDK's protobufjs model).
 *
 *   pbtool decode [-q max_requests] [-m max_messages] [-r max_receivers] [-c max_channels]
 *       RequestBatch on stdin -> JSON on stdout (bytes as lower-case hex, strings as JSON).
 *       Malformed input: {"error":<PB_* code>,"message":"..."} on stdout, exit 1.
 *   pbtool encode-outgoing
 *       stdin lines "<id-hex> <body-hex> <expiry> <created> <sender-type> <sender-id-hex>"
 *       ("-" for an empty hex field) -> one ResponseBatch on stdout, built the way the server
 *       sends it: pb_outgoing_batch_prefix + the per-message fields.
 *   pbtool encode-stats
 *       stdin lines "<id-hex> <isPrivate 0|1> <isOnline 0|1>" -> ResponseBatch on stdout.
 *   pbtool encode-server-stats | encode-json
 *       stdin (raw JSON text) -> ResponseBatch on stdout.
 *
 * Exit codes (s6 style): 0 done, 1 input rejected, 100 usage, 111 system error. */
#include "first.h"

#include "buf.h"
#include "pb.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE                                                                                      \
    "pbtool decode [ -q reqs ] [ -m msgs ] [ -r receivers ] [ -c channels ] | encode-outgoing | "  \
    "encode-stats | encode-server-stats | encode-json"
#define PROG "pbtool"

static void die_usage(void)
{
    fprintf(stderr, "%s: usage: %s\n", PROG, USAGE);
    exit(100);
}

static void die_sys(const char *what)
{
    fprintf(stderr, "%s: fatal: %s: %s\n", PROG, what, strerror(errno));
    exit(111);
}

static void die_input(const char *what, const char *line)
{
    fprintf(stderr, "%s: bad input: %s: %s\n", PROG, what, line);
    exit(1);
}

static void read_all(struct buf *in)
{
    for (;;) {
        uint8_t *p = buf_reserve(in, 65536);
        ssize_t n = read(0, p, 65536);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_sys("read stdin");
        }
        if (n == 0)
            return;
        in->len += (size_t)n;
    }
}

static void write_all(const void *p, size_t len)
{
    const uint8_t *s = p;
    while (len) {
        ssize_t n = write(1, s, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_sys("write stdout");
        }
        s += n;
        len -= (size_t)n;
    }
}

/* ---- decode ---- */

static void json_hex(struct buf *o, struct pb_bytes b)
{
    buf_append_byte(o, '"');
    char *hex = xmalloc(2 * b.len + 1);
    hex_encode(b.p, b.len, hex);
    buf_append(o, hex, 2 * b.len);
    free(hex);
    buf_append_byte(o, '"');
}

/* The decoder guarantees valid UTF-8, so only quote, backslash and controls need escaping. */
static void json_str(struct buf *o, struct pb_bytes b)
{
    buf_append_byte(o, '"');
    for (size_t i = 0; i < b.len; i++) {
        uint8_t c = b.p[i];
        if (c == '"' || c == '\\') {
            buf_append_byte(o, '\\');
            buf_append_byte(o, c);
        } else if (c < 0x20) {
            buf_printf(o, "\\u%04x", c);
        } else {
            buf_append_byte(o, c);
        }
    }
    buf_append_byte(o, '"');
}

static void json_receiver(struct buf *o, const struct pb_receiver *r)
{
    buf_append_str(o, "{\"id\":");
    json_hex(o, r->id);
    buf_printf(o, ",\"isPrivate\":%s,\"signature\":", r->is_private ? "true" : "false");
    json_hex(o, r->signature);
    buf_append_byte(o, '}');
}

static void json_message(struct buf *o, const struct pb_incoming_message *m)
{
    buf_append_str(o, "{\"receivers\":[");
    for (size_t i = 0; i < m->n_receivers; i++) {
        if (i)
            buf_append_byte(o, ',');
        json_receiver(o, &m->receivers[i]);
    }
    buf_append_str(o, "],\"sender\":");
    if (m->has_sender) {
        buf_printf(o, "{\"type\":%u,\"id\":", (unsigned)m->sender_type);
        json_hex(o, m->sender_id);
        buf_append_byte(o, '}');
    } else {
        buf_append_str(o, "null");
    }
    buf_append_str(o, ",\"body\":");
    json_str(o, m->body);
    buf_printf(o, ",\"expiry\":%u,\"type\":", (unsigned)m->expiry);
    json_str(o, m->type);
    buf_append_byte(o, '}');
}

static void json_request(struct buf *o, const struct pb_request *rq)
{
    static const char *const kinds[] = {
        [PB_REQ_NONE] = "none",
        [PB_REQ_INCOMING_MESSAGES] = "incomingMessages",
        [PB_REQ_CHANNEL_STATS] = "channelStats",
        [PB_REQ_SERVER_STATS] = "serverStats",
        [PB_REQ_REGISTRATION] = "registration",
    };
    buf_printf(o, "{\"kind\":\"%s\"", kinds[rq->kind]);
    if (rq->kind == PB_REQ_INCOMING_MESSAGES) {
        buf_append_str(o, ",\"messages\":[");
        for (size_t i = 0; i < rq->n_messages; i++) {
            if (i)
                buf_append_byte(o, ',');
            json_message(o, &rq->messages[i]);
        }
        buf_append_byte(o, ']');
    } else if (rq->kind == PB_REQ_CHANNEL_STATS) {
        buf_append_str(o, ",\"channels\":[");
        for (size_t i = 0; i < rq->n_channels; i++) {
            if (i)
                buf_append_byte(o, ',');
            json_receiver(o, &rq->channels[i]);
        }
        buf_append_byte(o, ']');
    }
    buf_append_byte(o, '}');
}

static size_t parse_limit(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        die_usage();
    return (size_t)v;
}

static int cmd_decode(int argc, char **argv)
{
    /* generous defaults: tests that want the server's limits pass them explicitly */
    struct pb_limits lim = {.max_requests = 1000,
                            .max_messages = 100000,
                            .max_receivers = 100000,
                            .max_channels = 100000};
    int c;
    while ((c = getopt(argc, argv, "q:m:r:c:")) != -1) {
        switch (c) {
        case 'q':
            lim.max_requests = parse_limit(optarg);
            break;
        case 'm':
            lim.max_messages = parse_limit(optarg);
            break;
        case 'r':
            lim.max_receivers = parse_limit(optarg);
            break;
        case 'c':
            lim.max_channels = parse_limit(optarg);
            break;
        default:
            die_usage();
        }
    }
    if (optind != argc)
        die_usage();

    struct buf in, o;
    buf_init(&in);
    buf_init(&o);
    read_all(&in);
    struct pb_request_batch b;
    int rc = pb_decode_request_batch(in.data, in.len, &lim, &b);
    if (rc != PB_OK) {
        buf_printf(&o, "{\"error\":%d,\"message\":\"%s\"}\n", rc, pb_strerror(rc));
        write_all(o.data, o.len);
        buf_deinit(&o);
        buf_deinit(&in);
        return 1;
    }
    buf_append_str(&o, "{\"requests\":[");
    for (size_t i = 0; i < b.n_requests; i++) {
        if (i)
            buf_append_byte(&o, ',');
        json_request(&o, &b.requests[i]);
    }
    buf_append_str(&o, "]}\n");
    write_all(o.data, o.len);
    pb_request_batch_free(&b);
    buf_deinit(&o);
    buf_deinit(&in);
    return 0;
}

/* ---- encode ---- */

/* "-" or an even-length hex string -> bytes (malloc'd, *len set). */
static uint8_t *parse_hex(const char *s, size_t *len, const char *line)
{
    if (!s)
        die_input("missing field", line);
    if (strcmp(s, "-") == 0) {
        *len = 0;
        return xmalloc(1);
    }
    size_t n = strlen(s);
    if (n % 2)
        die_input("odd hex length", line);
    uint8_t *p = xmalloc(n / 2 + 1);
    if (!hex_decode(s, n, p, n / 2))
        die_input("bad hex", line);
    *len = n / 2;
    return p;
}

static uint32_t parse_u32(const char *s, const char *line)
{
    if (!s)
        die_input("missing field", line);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || v > UINT32_MAX)
        die_input("bad number", line);
    return (uint32_t)v;
}

/* Calls fn for each non-empty stdin line with its whitespace-separated fields. */
static void each_line(void (*fn)(char **f, size_t nf, const char *line, void *arg), void *arg)
{
    char *line = NULL, *copy;
    size_t cap = 0;
    ssize_t n;
    char *fields[8];
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        copy = xstrdup(line);
        size_t nf = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && nf < ARRAY_LEN(fields);
             t = strtok_r(NULL, " \t\r\n", &save))
            fields[nf++] = t;
        if (nf)
            fn(fields, nf, copy, arg);
        free(copy);
    }
    if (ferror(stdin))
        die_sys("read stdin");
    free(line);
}

static void outgoing_line(char **f, size_t nf, const char *line, void *arg)
{
    struct buf *fields = arg;
    size_t id_len, body_len, sid_len;
    if (nf != 6)
        die_input("want 6 fields", line);
    uint8_t *id = parse_hex(f[0], &id_len, line);
    uint8_t *body = parse_hex(f[1], &body_len, line);
    uint32_t expiry = parse_u32(f[2], line), created = parse_u32(f[3], line);
    uint32_t stype = parse_u32(f[4], line);
    uint8_t *sid = parse_hex(f[5], &sid_len, line);
    if (!pb_utf8_valid(body, body_len))
        die_input("body is not UTF-8", line);
    pb_encode_outgoing_message_field(fields, id, id_len, (const char *)body, body_len, expiry,
                                     created, stype, sid, sid_len);
    free(id);
    free(body);
    free(sid);
}

static int cmd_encode_outgoing(void)
{
    /* The fields are encoded once into one buffer; the prefix is computed from their total
     * length and written separately, exactly like a delivery's writev. */
    struct buf fields;
    buf_init(&fields);
    each_line(outgoing_line, &fields);
    uint8_t hdr[PB_OUTGOING_PREFIX_MAX];
    size_t hl = pb_outgoing_batch_prefix(hdr, fields.len);
    write_all(hdr, hl);
    write_all(fields.data, fields.len);
    buf_deinit(&fields);
    return 0;
}

struct stats_acc {
    struct pb_channel_stat *st;
    size_t n, cap;
};

static void stats_line(char **f, size_t nf, const char *line, void *arg)
{
    struct stats_acc *a = arg;
    if (nf != 3)
        die_input("want 3 fields", line);
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->st = xrealloc(a->st, a->cap * sizeof(*a->st));
    }
    struct pb_channel_stat *s = &a->st[a->n++];
    s->id = parse_hex(f[0], &s->id_len, line);
    s->is_private = parse_u32(f[1], line) != 0;
    s->is_online = parse_u32(f[2], line) != 0;
}

static int cmd_encode_stats(void)
{
    struct stats_acc a = {NULL, 0, 0};
    struct buf o;
    buf_init(&o);
    each_line(stats_line, &a);
    pb_encode_channel_stats_response(&o, a.st, a.n);
    write_all(o.data, o.len);
    for (size_t i = 0; i < a.n; i++)
        free((void *)a.st[i].id);
    free(a.st);
    buf_deinit(&o);
    return 0;
}

static int cmd_encode_json(bool server_stats)
{
    struct buf in, o;
    buf_init(&in);
    buf_init(&o);
    read_all(&in);
    if (!pb_utf8_valid(in.data, in.len))
        die_input("stdin is not UTF-8", "");
    if (server_stats)
        pb_encode_server_stats_response(&o, (const char *)in.data, in.len);
    else
        pb_encode_json_response(&o, (const char *)in.data, in.len);
    write_all(o.data, o.len);
    buf_deinit(&in);
    buf_deinit(&o);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die_usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "decode") == 0)
        return cmd_decode(argc - 1, argv + 1);
    if (argc != 2)
        die_usage();
    if (strcmp(cmd, "encode-outgoing") == 0)
        return cmd_encode_outgoing();
    if (strcmp(cmd, "encode-stats") == 0)
        return cmd_encode_stats();
    if (strcmp(cmd, "encode-server-stats") == 0)
        return cmd_encode_json(true);
    if (strcmp(cmd, "encode-json") == 0)
        return cmd_encode_json(false);
    die_usage();
    return 100;
}
