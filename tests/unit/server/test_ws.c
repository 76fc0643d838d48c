/* Unit tests for server/src/ws.c: RFC 6455 section 5.7 examples, every header
 * rejection, the -2 path for every prefix, piecewise unmasking, UTF-8 corner
 * cases in the style of Autobahn 6.x, and close payloads. Parser inputs end
 * at a PROT_NONE page so that any over-read faults under ASan or not. */
#include "first.h"

#include "../../../server/src/util.c"
#include "../../../server/src/ws.c"

#include "guard.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>


static int parse(const uint8_t *src, size_t len, uint64_t max, struct ws_frame *f, uint16_t *cc)
{
    return ws_parse_frame_header(guard_copy(src, len), len, max, f, cc);
}

static bool utf8_ok(const void *s, size_t n)
{
    uint32_t st = 0;
    return ws_utf8_step(&st, guard_copy(s, n), n) && ws_utf8_complete(st);
}

/* ---- RFC 6455 5.7 examples ---- */

static void test_rfc_examples(void)
{
    /* A single-frame masked text message containing "Hello". */
    const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                    0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct ws_frame f;
    uint16_t cc = 0;
    int r = parse(masked_hello, sizeof(masked_hello), 1024, &f, &cc);
    ok(r == 6, "masked Hello: header is 6 bytes");
    ok(f.fin && f.opcode == WS_OP_TEXT && f.masked, "masked Hello: FIN text masked");
    ok(f.payload_len == 5 && f.header_len == 6, "masked Hello: payload_len 5");
    ok(memcmp(f.mask, "\x37\xfa\x21\x3d", 4) == 0, "masked Hello: mask key");
    uint8_t payload[5];
    memcpy(payload, masked_hello + 6, 5);
    ws_unmask(payload, 5, f.mask, 0);
    ok(memcmp(payload, "Hello", 5) == 0, "masked Hello unmasks to Hello");

    /* The masked Pong with the same body. */
    const uint8_t masked_pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    r = parse(masked_pong, sizeof(masked_pong), 1024, &f, &cc);
    ok(r == 6 && f.opcode == WS_OP_PONG && f.payload_len == 5, "masked Pong parses");

    /* The unmasked examples are what the server sends. */
    uint8_t h[WS_MAX_SERVER_HEADER];
    ok(ws_frame_header(h, WS_OP_TEXT, true, 5) == 2 && h[0] == 0x81 && h[1] == 0x05,
       "unmasked Hello header is 81 05");
    ok(ws_frame_header(h, WS_OP_TEXT, false, 3) == 2 && h[0] == 0x01 && h[1] == 0x03,
       "first fragment Hel header is 01 03");
    ok(ws_frame_header(h, WS_OP_CONT, true, 2) == 2 && h[0] == 0x80 && h[1] == 0x02,
       "last fragment lo header is 80 02");
    ok(ws_frame_header(h, WS_OP_PING, true, 5) == 2 && h[0] == 0x89 && h[1] == 0x05,
       "unmasked Ping header is 89 05");
    ok(ws_frame_header(h, WS_OP_BINARY, true, 256) == 4 && memcmp(h, "\x82\x7e\x01\x00", 4) == 0,
       "256-byte binary header is 82 7E 0100");
    ok(ws_frame_header(h, WS_OP_BINARY, true, 65536) == 10 &&
           memcmp(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10) == 0,
       "64 KiB binary header is 82 7F 0000000000010000");

    /* The same two length forms as a client would send them, masked. */
    const uint8_t b256[] = {0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4};
    r = parse(b256, sizeof(b256), 1 << 20, &f, &cc);
    ok(r == 8 && f.payload_len == 256 && f.opcode == WS_OP_BINARY &&
           memcmp(f.mask, "\x01\x02\x03\x04", 4) == 0,
       "masked 256-byte binary parses");
    const uint8_t b64k[] = {0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 9, 8, 7, 6};
    r = parse(b64k, sizeof(b64k), 1 << 20, &f, &cc);
    ok(r == 14 && f.payload_len == 65536 && memcmp(f.mask, "\x09\x08\x07\x06", 4) == 0,
       "masked 64 KiB binary parses");
    r = parse(b64k, sizeof(b64k), 65536, &f, &cc);
    ok(r == 14, "payload_len == max_payload is accepted");
}

/* ---- every prefix of a valid header is incomplete ---- */

static void check_prefixes(const uint8_t *frame, size_t hlen, const char *what)
{
    struct ws_frame f;
    uint16_t cc = 0;
    bool all = true;
    for (size_t k = 0; k < hlen; k++)
        if (parse(frame, k, UINT64_MAX >> 1, &f, &cc) != -2)
            all = false;
    ok(all, what);
    /* Trailing payload bytes must not change the answer. */
    uint8_t more[WS_MAX_HEADER + 3];
    memcpy(more, frame, hlen);
    memset(more + hlen, 0xab, 3);
    ok(parse(more, hlen + 3, UINT64_MAX >> 1, &f, &cc) == (int)hlen, "  and with payload after it");
}

static void test_prefixes(void)
{
    const uint8_t small[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d};
    const uint8_t mid[] = {0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4};
    const uint8_t big[] = {0x02, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 9, 8, 7, 6};
    const uint8_t huge[] = {0x80, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 1, 1, 1};
    const uint8_t ping[] = {0x89, 0xfd, 0, 0, 0, 0};
    const uint8_t close0[] = {0x88, 0x80, 5, 6, 7, 8};
    check_prefixes(small, sizeof(small), "7-bit length: every prefix returns -2");
    check_prefixes(mid, sizeof(mid), "16-bit length: every prefix returns -2");
    check_prefixes(big, sizeof(big), "64-bit length: every prefix returns -2");
    check_prefixes(huge, sizeof(huge), "2^63-1 length: every prefix returns -2");
    check_prefixes(ping, sizeof(ping), "125-byte ping: every prefix returns -2");
    check_prefixes(close0, sizeof(close0), "empty close: every prefix returns -2");
}

/* ---- rejections ---- */

/* The full header must fail with code, and no prefix may be accepted. */
static void check_reject(const uint8_t *frame, size_t n, uint64_t max, uint16_t code,
                         const char *what)
{
    struct ws_frame f;
    uint16_t cc = 0;
    bool prefixes = true;
    for (size_t k = 0; k < n; k++) {
        int r = parse(frame, k, max, &f, &cc);
        if (r != -2 && !(r == -1 && cc == code))
            prefixes = false;
    }
    cc = 0;
    int r = parse(frame, n, max, &f, &cc);
    ok(r == -1 && cc == code && prefixes, what);
}

static void test_rejections(void)
{
    const uint64_t max = 1 << 20;
    uint8_t fr[WS_MAX_HEADER];
    uint16_t cc;
    struct ws_frame f;

#define REJECT(code, what, ...)                                                                    \
    do {                                                                                           \
        const uint8_t b_[] = {__VA_ARGS__};                                                        \
        check_reject(b_, sizeof(b_), max, code, what);                                             \
    } while (0)

    REJECT(WS_CLOSE_PROTOCOL, "RSV1 set", 0xc1, 0x80, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "RSV2 set", 0xa1, 0x80, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "RSV3 set", 0x91, 0x80, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "all RSV bits set", 0xf1, 0x80, 1, 2, 3, 4);

    bool all = true;
    for (uint8_t op = 0; op < 16; op++) {
        bool known = op <= 2 || (op >= 8 && op <= 10);
        fr[0] = 0x80 | op;
        fr[1] = 0x80;
        memset(fr + 2, 0x11, 4);
        cc = 0;
        int r = parse(fr, 6, max, &f, &cc);
        if (known ? r != 6 : (r != -1 || cc != WS_CLOSE_PROTOCOL))
            all = false;
        /* Rejected from the first byte on. */
        cc = 0;
        if (!known && (parse(fr, 1, max, &f, &cc) != -1 || cc != WS_CLOSE_PROTOCOL))
            all = false;
    }
    ok(all, "opcodes 3-7 and 11-15 are rejected, the six known ones accepted");

    REJECT(WS_CLOSE_PROTOCOL, "unmasked text frame", 0x81, 0x05, 'H', 'e', 'l', 'l', 'o');
    REJECT(WS_CLOSE_PROTOCOL, "unmasked empty ping", 0x89, 0x00);
    REJECT(WS_CLOSE_PROTOCOL, "unmasked 16-bit length", 0x82, 0x7e, 0x01, 0x00);
    REJECT(WS_CLOSE_PROTOCOL, "fragmented ping", 0x09, 0x80, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "fragmented pong", 0x0a, 0x80, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "fragmented close", 0x08, 0x80, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "126-byte ping", 0x89, 0xfe, 0x00, 0x7e, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "64-bit length close", 0x88, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3,
           4);
    REJECT(WS_CLOSE_PROTOCOL, "16-bit form for 125", 0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "16-bit form for 0", 0x82, 0xfe, 0x00, 0x00, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "64-bit form for 0xffff", 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1,
           2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "64-bit form for 126", 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x7e, 1, 2, 3,
           4);
    REJECT(WS_CLOSE_PROTOCOL, "64-bit length with the top bit set", 0x82, 0xff, 0x80, 0, 0, 0, 0, 0,
           0, 0, 1, 2, 3, 4);
    REJECT(WS_CLOSE_PROTOCOL, "64-bit length of all ones", 0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
           0xff, 0xff, 0xff, 1, 2, 3, 4);

    const uint8_t len125[] = {0x81, 0xfd, 1, 2, 3, 4};
    check_reject(len125, sizeof(len125), 124, WS_CLOSE_TOO_BIG, "7-bit length over max_payload");
    const uint8_t len64k[] = {0x82, 0xfe, 0xff, 0xff, 1, 2, 3, 4};
    check_reject(len64k, sizeof(len64k), 65534, WS_CLOSE_TOO_BIG, "16-bit length over max_payload");
    REJECT(WS_CLOSE_TOO_BIG, "max_payload + 1", 0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 1, 1, 2, 3, 4);
    REJECT(WS_CLOSE_TOO_BIG, "2^63-1 bytes", 0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
           0xff, 1, 2, 3, 4);
#undef REJECT

    /* max_payload applies before the mask key has arrived. */
    const uint8_t early[] = {0x82, 0xfe, 0xff, 0xff};
    cc = 0;
    ok(parse(early, sizeof(early), 1000, &f, &cc) == -1 && cc == WS_CLOSE_TOO_BIG,
       "too big is reported before the mask key arrives");
    /* A zero max still admits empty frames (e.g. empty pings). */
    const uint8_t empty_ping[] = {0x89, 0x80, 1, 2, 3, 4};
    ok(parse(empty_ping, sizeof(empty_ping), 0, &f, &cc) == 6, "max_payload 0 admits empty frames");
}

/* ---- server header round trip through the parser ---- */

static void test_header_roundtrip(void)
{
    const uint64_t lens[] = {0,     1,     125,   126,        127,
                             65535, 65536, 65537, 1ull << 32, (1ull << 63) - 1};
    bool all = true;
    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        for (int fin = 0; fin <= 1; fin++) {
            uint8_t h[WS_MAX_HEADER];
            size_t n = ws_frame_header(h, WS_OP_BINARY, fin, lens[i]);
            size_t want = lens[i] < 126 ? 2 : lens[i] <= 0xffff ? 4 : 10;
            if (n != want)
                all = false;
            /* Turn it into a client frame: set MASK, append a key. */
            h[1] |= 0x80;
            memcpy(h + n, "\xde\xad\xbe\xef", 4);
            struct ws_frame f;
            uint16_t cc;
            int r = parse(h, n + 4, UINT64_MAX, &f, &cc);
            if (r != (int)(n + 4) || f.payload_len != lens[i] || f.fin != (bool)fin ||
                f.opcode != WS_OP_BINARY)
                all = false;
        }
    }
    ok(all, "server headers for 0..2^63-1 use the minimal form and parse back");
    uint8_t h[WS_MAX_SERVER_HEADER];
    ok(ws_frame_header(h, WS_OP_CLOSE, true, 2) == 2 && h[0] == 0x88, "close header is 88");
}

/* ---- unmasking ---- */

static void unmask_ref(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= mask[(offset + i) % 4];
}

static void test_unmask(void)
{
    enum { N = 200 };
    const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t src[N], want[N], got[N + 8];

    for (size_t i = 0; i < N; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    memcpy(want, src, N);
    unmask_ref(want, N, mask, 0);

    memcpy(got, src, N);
    ws_unmask(got, N, mask, 0);
    ok(memcmp(got, want, N) == 0, "unmask at once matches the byte-wise reference");

    bool all = true;
    for (size_t k = 0; k <= N; k++) {
        memcpy(got, src, N);
        ws_unmask(got, k, mask, 0);
        ws_unmask(got + k, N - k, mask, k);
        if (memcmp(got, want, N) != 0)
            all = false;
    }
    ok(all, "unmask in two pieces at every split offset equals unmask at once");

    all = true;
    for (size_t a = 0; a <= 40; a++)
        for (size_t b = a; b <= 80; b += 3) {
            memcpy(got, src, N);
            ws_unmask(got, a, mask, 0);
            ws_unmask(got + a, b - a, mask, a);
            ws_unmask(got + b, N - b, mask, b);
            if (memcmp(got, want, N) != 0)
                all = false;
        }
    ok(all, "unmask in three pieces equals unmask at once");

    /* Misaligned buffers and large offsets (only offset % 4 matters). */
    all = true;
    for (size_t shift = 0; shift < 8; shift++)
        for (uint64_t off = 0; off < 8; off++) {
            uint64_t big = off + (1ull << 40);
            memcpy(got + shift, src, N);
            ws_unmask(got + shift, N, mask, big);
            uint8_t ref[N];
            memcpy(ref, src, N);
            unmask_ref(ref, N, mask, big);
            if (memcmp(got + shift, ref, N) != 0)
                all = false;
        }
    ok(all, "unmask at misaligned addresses and 2^40+k offsets");

    /* Byte by byte, ending at the guard page. */
    uint8_t *g = guard_copy(src, N);
    for (size_t i = 0; i < N; i++)
        ws_unmask(g + i, 1, mask, i);
    ok(memcmp(g, want, N) == 0, "unmask byte by byte at the guard page");
    ws_unmask(g, 0, mask, 3);
    ok(memcmp(g, want, N) == 0, "unmask of 0 bytes is a no-op");
}

/* ---- handshake ---- */

static void test_handshake(void)
{
    char out[29];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    memset(out, 'x', sizeof(out));
    ws_accept_key(key, strlen(key), out);
    ok(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "RFC 6455 accept key example");

    ok(ws_key_valid(key, strlen(key)), "RFC sample key is valid");
    ok(ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24), "all-zero key is valid");
    ok(ws_key_valid("/////////////////////w==", 24), "all-ones key is valid");
    ok(!ws_key_valid(key, 23), "23 chars is invalid");
    ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==A", 25), "25 chars is invalid");
    ok(!ws_key_valid("", 0), "empty key is invalid");
    ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=A", 24), "missing second = is invalid");
    ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZ===", 24), "three = is invalid");
    ok(!ws_key_valid("dGhlIHNhbXBsZSBub25jZR==", 24), "non-zero pad bits are invalid");
    ok(!ws_key_valid("dGhlIHNhbXBsZSBub25-ZQ==", 24), "base64url '-' is invalid");
    ok(!ws_key_valid("dGhlIHNhbXBsZSBub25_ZQ==", 24), "base64url '_' is invalid");
    ok(!ws_key_valid("dGhlIHNhbXBsZSBub25 ZQ==", 24), "space is invalid");
    ok(!ws_key_valid("dGhlIHNhbXBsZSBub25\0ZQ==", 24), "NUL is invalid");
    /* The check reads exactly len bytes. */
    ok(ws_key_valid((const char *)guard_copy(key, 24), 24), "key at the guard page");
}

/* ---- UTF-8 ---- */

/* Feeds s byte by byte; returns the index of the byte that was rejected, or
 * n when all were accepted (then *complete tells whether it may end there). */
static size_t utf8_fail_at(const char *s, size_t n, bool *complete)
{
    const uint8_t *g = guard_copy(s, n);
    uint32_t st = 0;
    for (size_t i = 0; i < n; i++)
        if (!ws_utf8_step(&st, g + i, 1))
            return i;
    *complete = ws_utf8_complete(st);
    return n;
}

#define U8(lit) (lit), sizeof(lit) - 1

static void test_utf8_valid(void)
{
    ok(utf8_ok(U8("")), "empty");
    ok(utf8_ok(U8("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!")),
       "Autobahn 6.1.x / 6.3 mixed text");
    ok(utf8_ok(U8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")), "kosme (6.2.x)");
    ok(utf8_ok("\0", 1), "U+0000");
    ok(utf8_ok(U8("\x7f")), "U+007F");
    ok(utf8_ok(U8("\xc2\x80")), "U+0080 (first 2-byte)");
    ok(utf8_ok(U8("\xdf\xbf")), "U+07FF (last 2-byte)");
    ok(utf8_ok(U8("\xe0\xa0\x80")), "U+0800 (first 3-byte)");
    ok(utf8_ok(U8("\xed\x9f\xbf")), "U+D7FF (before surrogates)");
    ok(utf8_ok(U8("\xee\x80\x80")), "U+E000 (after surrogates)");
    ok(utf8_ok(U8("\xef\xbf\xbd")), "U+FFFD");
    ok(utf8_ok(U8("\xef\xbf\xbe\xef\xbf\xbf")), "noncharacters U+FFFE U+FFFF are valid");
    ok(utf8_ok(U8("\xf0\x90\x80\x80")), "U+10000 (first 4-byte)");
    ok(utf8_ok(U8("\xf3\xbf\xbf\xbf")), "U+FFFFF");
    ok(utf8_ok(U8("\xf4\x80\x80\x80")), "U+100000");
    ok(utf8_ok(U8("\xf4\x8f\xbf\xbf")), "U+10FFFF is valid");

    /* Every split of a multi-byte text into two calls. */
    const char *t = "a\xc2\xb5\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbfz";
    size_t n = strlen(t);
    bool all = true;
    for (size_t k = 0; k <= n; k++) {
        uint32_t st = 0;
        bool mid_ok = ws_utf8_step(&st, guard_copy(t, k), k);
        if (!mid_ok)
            all = false;
        /* Mid-sequence splits must report "not complete". */
        bool boundary = k == n || ((unsigned char)t[k] & 0xc0) != 0x80;
        if (ws_utf8_complete(st) != boundary)
            all = false;
        if (!ws_utf8_step(&st, guard_copy(t + k, n - k), n - k) || !ws_utf8_complete(st))
            all = false;
    }
    ok(all, "split at every byte into two calls: valid, incomplete only mid-sequence");

    bool complete = false;
    ok(utf8_fail_at(t, n, &complete) == n && complete, "byte by byte: valid and complete");
}

static void test_utf8_invalid(void)
{
    struct {
        const char *s;
        size_t n;
        size_t fail_at; /* byte index that must be rejected (fail fast) */
        const char *what;
    } bad[] = {
        {U8("\x80"), 0, "lone continuation 0x80"},
        {U8("\xbf"), 0, "lone continuation 0xBF"},
        {U8("a\x80\xbf"), 1, "continuations after ASCII"},
        {U8("\xc0\x80"), 0, "overlong U+0000 (2 bytes)"},
        {U8("\xc0\xaf"), 0, "overlong '/' (2 bytes)"},
        {U8("\xc1\xbf"), 0, "maximum overlong 2-byte"},
        {U8("\xe0\x80\xaf"), 1, "overlong '/' (3 bytes)"},
        {U8("\xe0\x9f\xbf"), 1, "maximum overlong 3-byte"},
        {U8("\xf0\x80\x80\xaf"), 1, "overlong '/' (4 bytes)"},
        {U8("\xf0\x8f\xbf\xbf"), 1, "maximum overlong 4-byte"},
        {U8("\xf8\x80\x80\x80\xaf"), 0, "overlong '/' (5 bytes)"},
        {U8("\xfc\x80\x80\x80\x80\xaf"), 0, "overlong '/' (6 bytes)"},
        {U8("\xed\xa0\x80"), 1, "surrogate U+D800"},
        {U8("\xed\xad\xbf"), 1, "surrogate U+DB7F"},
        {U8("\xed\xb0\x80"), 1, "surrogate U+DC00"},
        {U8("\xed\xbf\xbf"), 1, "surrogate U+DFFF"},
        {U8("\xed\xa0\x80\xed\xb0\x80"), 1, "surrogate pair U+D800 U+DC00"},
        {U8("\xf4\x90\x80\x80"), 1, "U+110000"},
        {U8("\xf5\x80\x80\x80"), 0, "lead 0xF5"},
        {U8("\xf7\xbf\xbf\xbf"), 0, "U+1FFFFF"},
        {U8("\xfe"), 0, "0xFE"},
        {U8("\xff"), 0, "0xFF"},
        {U8("\xc2\x41"), 1, "2-byte lead followed by ASCII"},
        {U8("\xe2\x82\x41"), 2, "3-byte sequence cut by ASCII"},
        {U8("\xf0\x9f\x98\xc3\xa4"), 3, "4-byte sequence cut by a new lead"},
        {U8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
            "edited"),
         12, "kosme then a surrogate (6.4.x fail fast)"},
        {U8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"
            "edited"),
         12, "kosme then U+110000 (6.4.x fail fast)"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        bool complete = false;
        size_t at = utf8_fail_at(bad[i].s, bad[i].n, &complete);
        uint32_t st = 0;
        bool whole = ws_utf8_step(&st, guard_copy(bad[i].s, bad[i].n), bad[i].n);
        ok(at == bad[i].fail_at && !whole && !ws_utf8_complete(st), bad[i].what);
    }

    /* Truncated sequences are valid so far but not complete. */
    const char *partial[] = {"\xc2", "\xe2\x82", "\xf0\x9f\x98", "\xf4\x8f\xbf", "ab\xe0\xa0"};
    bool all = true;
    for (size_t i = 0; i < ARRAY_LEN(partial); i++) {
        uint32_t st = 0;
        size_t n = strlen(partial[i]);
        if (!ws_utf8_step(&st, guard_copy(partial[i], n), n) || ws_utf8_complete(st))
            all = false;
    }
    ok(all, "truncated sequences: accepted so far, not complete");

    /* Rejection is sticky across calls. */
    uint32_t st = 0;
    ws_utf8_step(&st, (const uint8_t *)"\xff", 1);
    ok(!ws_utf8_step(&st, (const uint8_t *)"a", 1) && !ws_utf8_step(&st, NULL, 0) &&
           !ws_utf8_complete(st),
       "an invalid state stays invalid");

    /* The ASCII fast path must still see a bad byte at every position. */
    char buf[64];
    all = true;
    for (size_t pos = 0; pos < sizeof(buf); pos++) {
        memset(buf, 'a', sizeof(buf));
        buf[pos] = (char)0x80;
        st = 0;
        if (ws_utf8_step(&st, guard_copy(buf, sizeof(buf)), sizeof(buf)))
            all = false;
    }
    ok(all, "stray byte at any position of 64 ASCII bytes is found");
    all = true;
    for (size_t pos = 0; pos + 2 <= sizeof(buf); pos++) {
        memset(buf, 'a', sizeof(buf));
        buf[pos] = (char)0xc3;
        buf[pos + 1] = (char)0xa4;
        if (!utf8_ok(buf, sizeof(buf)))
            all = false;
    }
    ok(all, "a 2-byte char at any position of ASCII text is valid");
}

/* ---- close payloads ---- */

static void test_close(void)
{
    uint8_t out[WS_MAX_CONTROL_PAYLOAD];
    uint16_t code = 0;

    size_t n = ws_close_payload(out, WS_CLOSE_GOING_AWAY, "server shutdown");
    ok(n == 17 && out[0] == 0x03 && out[1] == 0xe9 && memcmp(out + 2, "server shutdown", 15) == 0,
       "close payload is big-endian code + reason");
    ok(ws_parse_close_payload(guard_copy(out, n), n, &code) && code == WS_CLOSE_GOING_AWAY,
       "close payload round trip");
    n = ws_close_payload(out, WS_CLOSE_NORMAL, NULL);
    ok(n == 2 && ws_parse_close_payload(guard_copy(out, n), n, &code) && code == WS_CLOSE_NORMAL,
       "close payload without reason");
    n = ws_close_payload(out, WS_CLOSE_TOO_BIG, "");
    ok(n == 2, "empty reason adds nothing");

    char longr[300];
    memset(longr, 'r', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';
    n = ws_close_payload(out, WS_CLOSE_POLICY, longr);
    ok(n == 125 && ws_parse_close_payload(guard_copy(out, n), n, &code) && code == WS_CLOSE_POLICY,
       "long ASCII reason is cut to 123 bytes");

    /* A 3-byte char straddling the cut is dropped whole, whatever its phase. */
    bool all = true;
    for (size_t lead = 119; lead <= 123; lead++) {
        memset(longr, 'r', sizeof(longr) - 1);
        memcpy(longr + lead, "\xe2\x82\xac", 3);
        n = ws_close_payload(out, WS_CLOSE_NORMAL, longr);
        size_t want = lead + 3 <= 123 ? 125 : lead + 2;
        if (n != want || !ws_parse_close_payload(guard_copy(out, n), n, &code))
            all = false;
    }
    ok(all, "multi-byte reason is cut at a character boundary");

    ok(ws_parse_close_payload(guard_copy("", 0), 0, &code) && code == WS_CLOSE_NO_STATUS,
       "empty close payload means 1005");
    ok(!ws_parse_close_payload(guard_copy("\x03", 1), 1, &code) && code == WS_CLOSE_PROTOCOL,
       "1-byte close payload is invalid");
    memset(out, 0, sizeof(out));
    out[0] = 0x03;
    out[1] = 0xe8;
    memset(out + 2, 'a', sizeof(out) - 2);
    ok(ws_parse_close_payload(guard_copy(out, 125), 125, &code) && code == 1000,
       "125-byte close payload is valid");

    const uint16_t good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                             1010, 1011, 3000, 3999, 4000, 4999};
    all = true;
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        n = ws_close_payload(out, good[i], "ok");
        if (!ws_parse_close_payload(guard_copy(out, n), n, &code) || code != good[i])
            all = false;
    }
    ok(all, "codes 1000-1003, 1007-1011, 3000-4999 are accepted");

    const uint16_t badc[] = {0,    1,    999,  1004, 1005, 1006, 1012, 1013,
                             1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < ARRAY_LEN(badc); i++) {
        char what[64];
        snprintf(what, sizeof(what), "close code %u is rejected with 1002", badc[i]);
        n = ws_close_payload(out, badc[i], NULL);
        code = 0;
        ok(!ws_parse_close_payload(guard_copy(out, n), n, &code) && code == WS_CLOSE_PROTOCOL, what);
    }

    const uint8_t bad_utf8[] = {0x03, 0xe8, 'a', 0xed, 0xa0, 0x80};
    code = 0;
    ok(!ws_parse_close_payload(guard_copy(bad_utf8, sizeof(bad_utf8)), sizeof(bad_utf8), &code) &&
           code == WS_CLOSE_INVALID_DATA,
       "reason with a surrogate is rejected with 1007");
    const uint8_t cut_utf8[] = {0x03, 0xe8, 'a', 0xe2, 0x82};
    code = 0;
    ok(!ws_parse_close_payload(guard_copy(cut_utf8, sizeof(cut_utf8)), sizeof(cut_utf8), &code) &&
           code == WS_CLOSE_INVALID_DATA,
       "reason ending mid-character is rejected with 1007");
}

int main(void)
{
    subtest("RFC 6455 5.7 examples", test_rfc_examples);
    subtest("every prefix of a valid header is incomplete", test_prefixes);
    subtest("header rejections", test_rejections);
    subtest("server header round trip", test_header_roundtrip);
    subtest("unmask", test_unmask);
    subtest("handshake key", test_handshake);
    subtest("UTF-8 valid", test_utf8_valid);
    subtest("UTF-8 invalid", test_utf8_invalid);
    subtest("close payloads", test_close);
    return done_testing();
}
