#include "first.h"

#include "jsontext.h"
#include "util.h"

#include <string.h>

/* ---- syntax check, no allocation ---- */

static size_t skip_ws(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static bool is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p[i] is '"': the index just past the closing quote, 0 when the string is
 * not a valid one. */
static size_t scan_string(const uint8_t *p, size_t i, size_t n)
{
    i++;
    while (i < n) {
        uint8_t c = p[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (i + 1 >= n)
                return 0;
            uint8_t e = p[i + 1];
            if (e == 'u') {
                if (n - i < 6)
                    return 0;
                for (size_t k = 2; k < 6; k++)
                    if (!is_hex(p[i + k]))
                        return 0;
                i += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                i += 2;
            } else {
                return 0;
            }
            continue;
        }
        size_t k = utf8_seq_len(p + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 0;
}

static size_t scan_digits(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    return i;
}

/* A number at p[i]: the index past it, 0 when there is none. */
static size_t scan_number(const uint8_t *p, size_t i, size_t n)
{
    if (i < n && p[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (p[i] == '0')
        i++;
    else if (p[i] >= '1' && p[i] <= '9')
        i = scan_digits(p, i, n);
    else
        return 0;
    if (i < n && p[i] == '.') {
        size_t j = scan_digits(p, i + 1, n);
        if (j == i + 1)
            return 0;
        i = j;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t j = scan_digits(p, i, n);
        if (j == i)
            return 0;
        i = j;
    }
    return i;
}

static size_t scan_word(const uint8_t *p, size_t i, size_t n, const char *w)
{
    size_t len = strlen(w);
    return n - i >= len && memcmp(p + i, w, len) == 0 ? i + len : 0;
}

bool jsontext_valid(const uint8_t *p, size_t n)
{
    /* what comes next: a value (first: or the container's end), a member
     * name (first: or '}'), or what follows a value */
    enum { VALUE, FIRST_VALUE, KEY, FIRST_KEY, AFTER } st = VALUE;
    uint8_t stack[JSONTEXT_MAX_DEPTH]; /* '{' or '[' per open container */
    size_t depth = 0;
    size_t i = 0;
    for (;;) {
        i = skip_ws(p, i, n);
        if (st == AFTER) {
            if (depth == 0)
                return i == n;
            if (i >= n)
                return false;
            uint8_t close = stack[depth - 1] == '{' ? '}' : ']';
            if (p[i] == ',') {
                st = stack[depth - 1] == '{' ? KEY : VALUE;
                i++;
            } else if (p[i] == close) {
                depth--;
                i++;
            } else {
                return false;
            }
            continue;
        }
        if (i >= n)
            return false;
        if ((st == FIRST_KEY && p[i] == '}') || (st == FIRST_VALUE && p[i] == ']')) {
            depth--;
            i++;
            st = AFTER;
            continue;
        }
        if (st == KEY || st == FIRST_KEY) {
            if (p[i] != '"' || !(i = scan_string(p, i, n)))
                return false;
            i = skip_ws(p, i, n);
            if (i >= n || p[i] != ':')
                return false;
            i++;
            st = VALUE;
            continue;
        }
        uint8_t c = p[i];
        if (c == '{' || c == '[') {
            if (depth == JSONTEXT_MAX_DEPTH)
                return false;
            stack[depth++] = c;
            i++;
            st = c == '{' ? FIRST_KEY : FIRST_VALUE;
            continue;
        }
        if (c == '"')
            i = scan_string(p, i, n);
        else if (c == 't')
            i = scan_word(p, i, n, "true");
        else if (c == 'f')
            i = scan_word(p, i, n, "false");
        else if (c == 'n')
            i = scan_word(p, i, n, "null");
        else
            i = scan_number(p, i, n);
        if (!i)
            return false;
        st = AFTER;
    }
}

/* ---- writing ---- */

static void append_u_escape(struct buf *b, unsigned cp)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\',        'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
                 hex[cp & 15]};
    buf_append(b, e, sizeof e);
}

void jsontext_append_unparsable(struct buf *b, const uint8_t *p, size_t n)
{
    buf_append_byte(b, '"');
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            buf_append_byte(b, '\\');
            buf_append_byte(b, c);
            i++;
        } else if (c < 0x20 || c == '#') {
            append_u_escape(b, c);
            i++;
        } else {
            size_t k = utf8_seq_len(p + i, n - i);
            if (k) {
                buf_append(b, p + i, k);
                i += k;
            } else {
                append_u_escape(b, 0xfffd);
                i++;
            }
        }
    }
    /* no closing quote: the string runs into the frame's end */
}

void jsontext_append_value(struct buf *b, const uint8_t *p, size_t n)
{
    if (!jsontext_valid(p, n)) /* an empty body too: the client would throw on "" */
        return jsontext_append_unparsable(b, p, n);
    /* one pass: copy the runs between the bytes that change */
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c != '#' && c != '\n' && c != '\r')
            continue;
        buf_append(b, p + from, i - from);
        if (c == '#')
            append_u_escape(b, '#');
        else
            buf_append_byte(b, ' ');
        from = i + 1;
    }
    buf_append(b, p + from, n - from);
}
