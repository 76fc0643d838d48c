#include "first.h"

#include "ws.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* ---- frame headers ---- */

static bool ws_opcode_known(uint8_t opcode)
{
    switch (opcode) {
    case WS_OP_CONT:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        return true;
    default:
        return false;
    }
}

/* Called by sub_websocket.c on the unread bytes of its input buffer, again
 * after every read while it returns -2. Checks are ordered by the byte that
 * reveals them, so a bad frame is rejected before its header is complete and
 * nothing past p[len - 1] is ever read. */
int ws_parse_frame_header(const uint8_t *p, size_t len, uint64_t max_payload, struct ws_frame *f,
                          uint16_t *close_code)
{
    bool control;
    uint64_t plen;
    size_t hlen = 2;

    if (len < 1)
        return -2;

    f->fin = (p[0] & 0x80) != 0;
    f->opcode = p[0] & 0x0f;
    /* RSV1-3 only have a meaning under an extension, and we negotiate none. */
    if (p[0] & 0x70)
        goto protocol;
    if (!ws_opcode_known(f->opcode))
        goto protocol;
    control = ws_opcode_is_control(f->opcode);
    /* Control frames may be interleaved inside a fragmented message, which
     * only works if they are never fragmented themselves (5.5). */
    if (control && !f->fin)
        goto protocol;

    if (len < 2)
        return -2;
    f->masked = (p[1] & 0x80) != 0;
    /* Clients must mask (5.1) so that proxies cannot be fed chosen bytes. */
    if (!f->masked)
        goto protocol;

    plen = p[1] & 0x7f;
    if (control && plen > WS_MAX_CONTROL_PAYLOAD)
        goto protocol;
    if (plen == 126) {
        if (len < 4)
            return -2;
        plen = (uint64_t)p[2] << 8 | p[3];
        /* 5.2: "the minimal number of bytes MUST be used". */
        if (plen < 126)
            goto protocol;
        hlen = 4;
    } else if (plen == 127) {
        if (len < 10)
            return -2;
        plen = 0;
        for (size_t i = 2; i < 10; i++)
            plen = plen << 8 | p[i];
        if (plen >> 63)
            goto protocol;
        if (plen <= 0xffff)
            goto protocol;
        hlen = 10;
    }
    /* Known before the mask key arrives: refuse early rather than buffer. */
    if (plen > max_payload) {
        *close_code = WS_CLOSE_TOO_BIG;
        return -1;
    }

    if (len < hlen + 4)
        return -2;
    memcpy(f->mask, p + hlen, 4);
    hlen += 4;
    f->payload_len = plen;
    f->header_len = hlen;
    return (int)hlen;

protocol:
    *close_code = WS_CLOSE_PROTOCOL;
    return -1;
}

/* Called on every payload byte a client sends, so it works a 64-bit word at a
 * time. The key is pre-rotated by offset so that key[i & 3] applies to p[i];
 * because 8 is a multiple of 4 the same 8-byte pattern then fits every word.
 * memcpy keeps the word accesses free of alignment and aliasing UB and
 * compiles to plain loads and stores. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset)
{
    uint8_t key[8];
    unsigned phase = (unsigned)(offset & 3);
    for (unsigned i = 0; i < 8; i++)
        key[i] = mask[(phase + i) & 3];
    uint64_t kw;
    memcpy(&kw, key, sizeof(kw));

    size_t i = 0;
    for (; n - i >= 32; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, sizeof(w));
        w[0] ^= kw;
        w[1] ^= kw;
        w[2] ^= kw;
        w[3] ^= kw;
        memcpy(p + i, w, sizeof(w));
    }
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        w ^= kw;
        memcpy(p + i, &w, sizeof(w));
    }
    for (; i < n; i++)
        p[i] ^= key[i & 3];
}

/* ---- handshake ---- */

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* Called once per upgrade request, after ws_key_valid(). A digest context
 * rather than a stack copy of key + GUID keeps key_len unbounded. */
void ws_accept_key(const char *key, size_t key_len, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* Fails only on allocation failure or a broken libcrypto: treated like
     * xmalloc, runit restarts the daemon. */
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, key, key_len) ||
        !EVP_DigestUpdate(ctx, ws_guid, sizeof(ws_guid) - 1) ||
        !EVP_DigestFinal_ex(ctx, md, &md_len) || md_len != 20)
        abort();
    EVP_MD_CTX_free(ctx);
    /* 20 bytes -> 28 base64 chars + NUL. */
    EVP_EncodeBlock((unsigned char *)out, md, 20);
}

/* Called on the Sec-WebSocket-Key header value before answering 101. 16 bytes
 * are 128 bits; 22 chars carry 132, so the last char's low 4 bits must be 0
 * for the string to be the encoding of any 16 bytes at all. */
bool ws_key_valid(const char *key, size_t len)
{
    if (len != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        int v = base64_digit_value(key[i], false);
        if (v < 0)
            return false;
        if (i == 21 && (v & 0x0f))
            return false;
    }
    return true;
}

/* ---- UTF-8 ---- */

/* State encoding: 0 between characters; otherwise bits 0-7 hold how many
 * continuation bytes are still due, bits 8-15 and 16-23 the lowest and
 * highest value the next one may take. Narrowing the range of the first
 * continuation byte is what rejects overlongs (E0, F0), surrogates (ED) and
 * code points past U+10FFFF (F4) at the first byte that proves it, which is
 * what Autobahn's fail-fast cases expect. */
#define WS_UTF8_REJECT UINT32_MAX

static inline uint32_t ws_utf8_expect(uint32_t count, uint32_t lo, uint32_t hi)
{
    return count | lo << 8 | hi << 16;
}

/* Called on each text frame payload after unmasking, and on close reasons. */
bool ws_utf8_step(uint32_t *state, const uint8_t *p, size_t n)
{
    uint32_t s = *state;
    size_t i = 0;

    if (s == WS_UTF8_REJECT)
        return false;
    while (i < n) {
        if (s == 0) {
            /* Messages are mostly ASCII (JSON): skip it a word at a time. */
            while (n - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, sizeof(w));
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            if (i == n)
                break;
            uint8_t c = p[i++];
            if (c < 0x80)
                continue;
            if (c < 0xc2) /* continuation byte, or overlong C0/C1 lead */
                goto reject;
            if (c < 0xe0)
                s = ws_utf8_expect(1, 0x80, 0xbf);
            else if (c == 0xe0)
                s = ws_utf8_expect(2, 0xa0, 0xbf);
            else if (c == 0xed)
                s = ws_utf8_expect(2, 0x80, 0x9f);
            else if (c < 0xf0)
                s = ws_utf8_expect(2, 0x80, 0xbf);
            else if (c == 0xf0)
                s = ws_utf8_expect(3, 0x90, 0xbf);
            else if (c < 0xf4)
                s = ws_utf8_expect(3, 0x80, 0xbf);
            else if (c == 0xf4)
                s = ws_utf8_expect(3, 0x80, 0x8f);
            else
                goto reject;
        } else {
            uint8_t c = p[i++];
            if (c < ((s >> 8) & 0xff) || c > ((s >> 16) & 0xff))
                goto reject;
            uint32_t left = (s & 0xff) - 1;
            s = left ? ws_utf8_expect(left, 0x80, 0xbf) : 0;
        }
    }
    *state = s;
    return true;

reject:
    *state = WS_UTF8_REJECT;
    return false;
}

bool ws_utf8_complete(uint32_t state)
{
    return state == 0;
}

/* ---- close frames ---- */

bool ws_close_code_valid(uint16_t code)
{
    /* 1004-1006 and 1015 are reserved or must never be sent; 1012+ are not
     * part of RFC 6455 and 1016-2999 are unassigned. 3000-4999 belong to
     * libraries and applications. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* Called when the server closes a connection (shutdown, limits, protocol
 * errors). The reason is cut at a character boundary because a peer must
 * fail a close frame whose reason is not valid UTF-8. */
size_t ws_close_payload(uint8_t out[WS_MAX_CONTROL_PAYLOAD], uint16_t code, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;

    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (n > WS_MAX_CLOSE_REASON) {
        n = WS_MAX_CLOSE_REASON;
        /* Back off over continuation bytes so that the byte at n (the first
         * one dropped) is not in the middle of a character. */
        while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
            n--;
    }
    if (n)
        memcpy(out + 2, reason, n);
    return 2 + n;
}

/* Called on the unmasked payload of a received close frame. */
bool ws_parse_close_payload(const uint8_t *p, size_t n, uint16_t *code)
{
    if (n == 0) {
        *code = WS_CLOSE_NO_STATUS;
        return true;
    }
    if (n == 1 || n > WS_MAX_CONTROL_PAYLOAD) {
        *code = WS_CLOSE_PROTOCOL;
        return false;
    }
    uint16_t c = (uint16_t)(p[0] << 8 | p[1]);
    if (!ws_close_code_valid(c)) {
        *code = WS_CLOSE_PROTOCOL;
        return false;
    }
    uint32_t st = 0;
    if (!ws_utf8_step(&st, p + 2, n - 2) || !ws_utf8_complete(st)) {
        *code = WS_CLOSE_INVALID_DATA;
        return false;
    }
    *code = c;
    return true;
}
