/* WebSocket client frames (ws_parse_frame_header, ws_unmask) and close
 * payloads (ws_parse_close_payload). Input: one byte for the split point,
 * one for the payload limit (as a power of two), then what a client sent.
 * Properties: a header prefix parses as "incomplete" or as the same verdict
 * (same close code) as the whole; a parsed header round-trips through the
 * server's encoder (ws_frame_header plus the mask bit and key) to the same
 * bytes; unmasking in two pieces equals unmasking at once, and masking
 * again restores the input; a valid close payload is rebuilt byte for byte
 * by ws_close_payload. */
#include "../../server/src/util.c"
#include "../../server/src/ws.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n = size - 2;
    size_t k = data[0] % (n + 1);
    uint64_t max = (uint64_t)1 << (data[1] % 64);
    uint8_t *whole = malloc(n ? n : 1), *part = malloc(k ? k : 1);
    memcpy(whole, data + 2, n);
    memcpy(part, data + 2, k);

    struct ws_frame f, g;
    uint16_t code = 0, pcode = 0;
    int rc = ws_parse_frame_header(whole, n, max, &f, &code);
    int prc = ws_parse_frame_header(part, k, max, &g, &pcode);
    FUZZ_CHECK(rc == -1 || rc == -2 || (rc >= 6 && rc <= WS_MAX_HEADER));
    if (rc == -1)
        FUZZ_CHECK(code == WS_CLOSE_PROTOCOL || code == WS_CLOSE_TOO_BIG);
    if (prc == -1)
        FUZZ_CHECK(rc == -1 && pcode == code);
    else if (prc == -2)
        FUZZ_CHECK(rc == -1 || rc == -2 || (size_t)rc > k);
    else
        FUZZ_CHECK(prc == rc && g.payload_len == f.payload_len && g.opcode == f.opcode);

    if (rc > 0) {
        FUZZ_CHECK(f.header_len == (size_t)rc && f.masked && f.payload_len <= max);
        if (ws_opcode_is_control(f.opcode))
            FUZZ_CHECK(f.fin && f.payload_len <= WS_MAX_CONTROL_PAYLOAD);
        uint8_t hdr[WS_MAX_HEADER];
        size_t hl = ws_frame_header(hdr, f.opcode, f.fin, f.payload_len);
        hdr[1] |= 0x80;
        memcpy(hdr + hl, f.mask, 4);
        FUZZ_CHECK(hl + 4 == (size_t)rc && memcmp(hdr, whole, (size_t)rc) == 0);

        size_t avail = n - (size_t)rc;
        if (avail > f.payload_len)
            avail = (size_t)f.payload_len;
        uint8_t *a = malloc(avail ? avail : 1), *b = malloc(avail ? avail : 1);
        memcpy(a, whole + rc, avail);
        memcpy(b, whole + rc, avail);
        ws_unmask(a, avail, f.mask, 0);
        size_t cut = avail ? data[0] % avail : 0;
        ws_unmask(b, cut, f.mask, 0);
        ws_unmask(b + cut, avail - cut, f.mask, cut);
        FUZZ_CHECK(memcmp(a, b, avail) == 0);
        if (f.opcode == WS_OP_CLOSE && avail == f.payload_len) {
            uint16_t cc = 0;
            if (ws_parse_close_payload(a, avail, &cc)) {
                FUZZ_CHECK(ws_close_code_valid(cc) || (cc == WS_CLOSE_NO_STATUS && avail == 0));
                char reason[WS_MAX_CONTROL_PAYLOAD + 1] = "";
                if (avail > 2)
                    memcpy(reason, a + 2, avail - 2);
                reason[avail > 2 ? avail - 2 : 0] = 0;
                if (avail >= 2 && strlen(reason) == avail - 2) {
                    uint8_t rebuilt[WS_MAX_CONTROL_PAYLOAD];
                    size_t rl = ws_close_payload(rebuilt, cc, reason);
                    FUZZ_CHECK(rl == avail && memcmp(rebuilt, a, avail) == 0);
                }
            } else {
                FUZZ_CHECK(cc == WS_CLOSE_PROTOCOL || cc == WS_CLOSE_INVALID_DATA);
            }
        }
        ws_unmask(a, avail, f.mask, 0);
        FUZZ_CHECK(memcmp(a, whole + rc, avail) == 0);
        free(a);
        free(b);
    }
    free(whole);
    free(part);
    return 0;
}
