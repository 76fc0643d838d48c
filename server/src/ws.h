/* RFC 6455 framing as pure functions: no I/O, no allocation, no libev.
 * sub_websocket.c owns the connection state and calls these on bytes that sit
 * in its input buffer; everything here can therefore be unit-tested and fuzzed
 * on plain byte arrays. */
#ifndef PULLBOX_WS_H
#define PULLBOX_WS_H

#include "first.h"

enum ws_opcode {
    WS_OP_CONT = 0,
    WS_OP_TEXT = 1,
    WS_OP_BINARY = 2,
    WS_OP_CLOSE = 8,
    WS_OP_PING = 9,
    WS_OP_PONG = 10
};

enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    /* Never sent on the wire: what a close frame without a body means. */
    WS_CLOSE_NO_STATUS = 1005,
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
    WS_CLOSE_TRY_AGAIN = 1013 /* IANA registry: "Try Again Later" */
};

/* Longest client frame header: 2 + 8 (64-bit length) + 4 (mask key). */
#define WS_MAX_HEADER 14
/* Longest server frame header (servers never mask). */
#define WS_MAX_SERVER_HEADER 10
/* Control frame payloads are capped by the protocol, not by configuration. */
#define WS_MAX_CONTROL_PAYLOAD 125
/* Close reason room left after the 2-byte code. */
#define WS_MAX_CLOSE_REASON 123

struct ws_frame {
    bool fin;
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len; /* payload starts at p + header_len */
};

/* True for CLOSE, PING and PONG (opcodes with the high bit of the nibble set). */
static inline bool ws_opcode_is_control(uint8_t opcode)
{
    return (opcode & 0x08) != 0;
}

/* Parses a client->server frame header at p[0..len) (borrows p; fills *f).
 * Returns the header length (> 0, payload follows), -2 when more bytes are
 * needed, or -1 on a protocol violation with *close_code set:
 *   1002 for RSV bits set, an unknown opcode, an unmasked frame, a fragmented
 *        or > 125-byte control frame, a non-minimal length encoding, or a
 *        64-bit length with the top bit set;
 *   1009 when payload_len > max_payload.
 * Violations are reported as soon as the bytes that show them have arrived,
 * even if the rest of the header has not. *f is meaningful only on > 0. */
int ws_parse_frame_header(const uint8_t *p, size_t len, uint64_t max_payload, struct ws_frame *f,
                          uint16_t *close_code);

/* XOR-unmasks p[0..n) in place. offset is the position of p[0] within the frame
 * payload, so a payload that arrives in pieces can be unmasked piece by piece. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset);

/* Writes an unmasked server frame header for a payload of len bytes
 * (len < 2^63) into out; returns its length (2, 4 or 10). Inline: a
 * message's encodings carry it (msg.c) without the handshake's OpenSSL. */
static inline size_t ws_frame_header(uint8_t out[WS_MAX_SERVER_HEADER], uint8_t opcode, bool fin,
                                     uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (unsigned i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

/* Computes Sec-WebSocket-Accept for a client key (borrows key[0..key_len)):
 * base64(SHA1(key + GUID)), 28 chars NUL-terminated in out. Aborts only if
 * OpenSSL cannot allocate a digest context. */
void ws_accept_key(const char *key, size_t key_len, char out[29]);

/* True when key[0..len) is the canonical base64 of 16 bytes: 22 alphabet
 * chars whose unused low bits are zero, then "==". */
bool ws_key_valid(const char *key, size_t len);

/* Incremental UTF-8 validation for text messages and close reasons split
 * across frames. *state starts at 0 and carries partial sequences between
 * calls. Returns false as soon as a byte makes the text invalid (overlong
 * forms, surrogates, code points above U+10FFFF, stray continuation bytes);
 * the state then stays invalid. */
bool ws_utf8_step(uint32_t *state, const uint8_t *p, size_t n);
/* True when state is valid and not in the middle of a sequence, i.e. the text
 * fed so far may end here (checked at the FIN of a text message). */
bool ws_utf8_complete(uint32_t state);

/* True for close codes a peer may send: 1000-1003, 1007-1011, 3000-4999. */
bool ws_close_code_valid(uint16_t code);

/* Builds a close frame payload: 2-byte big-endian code + reason (may be NULL),
 * truncated to 123 bytes at a UTF-8 character boundary. Returns its length
 * (<= 125). */
size_t ws_close_payload(uint8_t out[WS_MAX_CONTROL_PAYLOAD], uint16_t code, const char *reason);

/* Parses a received close payload p[0..n). Returns true with *code set (1005
 * when the payload is empty) when valid. Returns false when the payload is one
 * byte or longer than 125, the code is not valid (ws_close_code_valid) or the
 * reason is not complete UTF-8; *code is then the code to close with (1002,
 * or 1007 for bad UTF-8). */
bool ws_parse_close_payload(const uint8_t *p, size_t n, uint16_t *code);

#endif
