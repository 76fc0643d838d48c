/* Seed values (seed.h): the list, and the OVF environment's parser. */
#include "seed.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define XML_DEPTH_MAX 16
#define XML_NAME_MAX 64

void seed_init(struct seed *s)
{
    memset(s, 0, sizeof(*s));
}

void seed_note(struct seed *s, const char *fmt, ...)
{
    va_list ap;

    if (s->nnotes >= SEED_NOTES_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(s->notes[s->nnotes++], SEED_NOTE_MAX, fmt, ap);
    va_end(ap);
}

void seed_add(struct seed *s, enum seed_what what, int setting, const char *name, const char *value,
              size_t len)
{
    struct seed_item *it;

    if (len >= SETTING_VALUE_MAX || memchr(value, '\0', len)) {
        seed_note(s, "%s: the value is longer than %d bytes or holds a NUL: skipped", name,
                  SETTING_VALUE_MAX - 1);
        return;
    }
    if (s->nitems >= SEED_ITEMS_MAX) {
        seed_note(s, "%s: more than %d values: skipped", name, SEED_ITEMS_MAX);
        return;
    }
    it = &s->items[s->nitems++];
    it->what = what;
    it->setting = setting;
    snprintf(it->name, sizeof(it->name), "%s", name);
    memcpy(it->value, value, len);
    it->value[len] = '\0';
}

/* ---- ovf-env.xml ---- */

struct xml {
    const char *p, *end;
    struct seed *s;
    char stack[XML_DEPTH_MAX][XML_NAME_MAX]; /* local names of the open elements */
    int depth;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_space(struct xml *x)
{
    while (x->p < x->end && is_space(*x->p))
        x->p++;
}

static bool starts(const struct xml *x, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(x->end - x->p) >= n && memcmp(x->p, lit, n) == 0;
}

/* Skips past lit; false if it never comes. */
static bool skip_past(struct xml *x, const char *lit)
{
    size_t n = strlen(lit);
    for (const char *q = x->p; q + n <= x->end; q++)
        if (memcmp(q, lit, n) == 0) {
            x->p = q + n;
            return true;
        }
    return false;
}

static bool name_char(char c)
{
    return c != '\0' && !is_space(c) && c != '/' && c != '>' && c != '=' && c != '<' && c != '"' &&
           c != '\'';
}

/* A name, copied without its namespace prefix ("oe:key" -> "key"). */
static bool read_name(struct xml *x, char *out)
{
    const char *start = x->p, *local;
    size_t n;

    while (x->p < x->end && name_char(*x->p))
        x->p++;
    if (x->p == start)
        return false;
    local = start;
    for (const char *q = start; q < x->p; q++)
        if (*q == ':')
            local = q + 1;
    n = (size_t)(x->p - local);
    if (n == 0 || n >= XML_NAME_MAX)
        return false;
    memcpy(out, local, n);
    out[n] = '\0';
    return true;
}

static size_t put_utf8(char *out, unsigned long c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3f));
    out[2] = (char)(0x80 | (c >> 6 & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* A quoted attribute value, its references decoded, into out (outlen
 * bytes with the NUL). Returns the length, -1 on a syntax error, -2 when
 * it does not fit. */
static long read_value(struct xml *x, char *out, size_t outlen)
{
    char q;
    size_t n = 0;
    bool toolong = false;

    if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
        return -1;
    q = *x->p++;
    while (x->p < x->end && *x->p != q) {
        char buf[4];
        size_t blen = 1;
        if (*x->p == '<')
            return -1;
        if (*x->p == '&') {
            static const struct {
                const char *name;
                char c;
            } named[] = {
                {"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}};
            bool found = false;
            x->p++;
            for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
                if (starts(x, named[i].name)) {
                    buf[0] = named[i].c;
                    x->p += strlen(named[i].name);
                    found = true;
                    break;
                }
            if (!found) {
                unsigned long c = 0;
                int base = 10, digits = 0;
                if (x->p >= x->end || *x->p != '#')
                    return -1;
                x->p++;
                if (x->p < x->end && *x->p == 'x') {
                    base = 16;
                    x->p++;
                }
                for (; x->p < x->end && *x->p != ';' && digits < 8; x->p++, digits++) {
                    char d = *x->p;
                    int v = d >= '0' && d <= '9'                 ? d - '0'
                            : base == 16 && d >= 'a' && d <= 'f' ? d - 'a' + 10
                            : base == 16 && d >= 'A' && d <= 'F' ? d - 'A' + 10
                                                                 : -1;
                    if (v < 0)
                        return -1;
                    c = c * (unsigned long)base + (unsigned long)v;
                }
                if (digits == 0 || x->p >= x->end || *x->p != ';' || c == 0 || c > 0x10ffff ||
                    (c >= 0xd800 && c <= 0xdfff))
                    return -1;
                x->p++;
                blen = put_utf8(buf, c);
            }
        } else {
            buf[0] = *x->p++;
        }
        if (n + blen >= outlen)
            toolong = true;
        else {
            memcpy(out + n, buf, blen);
            n += blen;
        }
    }
    if (x->p >= x->end)
        return -1;
    x->p++;
    out[n] = '\0';
    return toolong ? -2 : (long)n;
}

/* Is the element being opened a Property of the Environment's own
 * PropertySection? */
static bool at_property(const struct xml *x, const char *name)
{
    return x->depth == 2 && strcmp(x->stack[0], "Environment") == 0 &&
           strcmp(x->stack[1], "PropertySection") == 0 && strcmp(name, "Property") == 0;
}

static void take_property(struct seed *s, const char *key, const char *value, size_t vlen)
{
    char name[SEED_NAME_MAX];
    int id;

    snprintf(name, sizeof(name), "OVF property %.40s", key);
    if (vlen == 0)
        return; /* left blank in the deployment wizard: the default stays */
    if (strcmp(key, SEED_KEY_ADMIN_HASH) == 0)
        seed_add(s, SEED_ADMIN_HASH, -1, name, value, vlen);
    else if (strcmp(key, SEED_KEY_SSH_KEY) == 0)
        seed_add(s, SEED_SSH_KEY, -1, name, value, vlen);
    else if (strcmp(key, SEED_KEY_SIGNATURE) == 0)
        seed_add(s, SEED_SIGNATURE_KEY, -1, name, value, vlen);
    else if ((id = setting_find(key)) >= 0)
        seed_add(s, SEED_SETTING, id, name, value, vlen);
    else
        seed_note(s, "%s: not a Pullbox setting: ignored", name);
}

/* One start tag (after '<'): its name and attributes. */
static int start_tag(struct xml *x)
{
    char name[XML_NAME_MAX], attr[XML_NAME_MAX], key[SEED_NAME_MAX] = "";
    char value[SETTING_VALUE_MAX], scratch[SETTING_VALUE_MAX];
    long vlen = -3, n;
    bool prop, empty = false, key_long = false;

    if (!read_name(x, name))
        return -1;
    prop = at_property(x, name);
    for (;;) {
        skip_space(x);
        if (starts(x, "/>")) {
            x->p += 2;
            empty = true;
            break;
        }
        if (starts(x, ">")) {
            x->p++;
            break;
        }
        if (!read_name(x, attr))
            return -1;
        skip_space(x);
        if (x->p >= x->end || *x->p != '=')
            return -1;
        x->p++;
        skip_space(x);
        if (prop && strcmp(attr, "key") == 0) {
            n = read_value(x, key, sizeof(key));
            key_long = n == -2;
        } else if (prop && strcmp(attr, "value") == 0) {
            n = vlen = read_value(x, value, sizeof(value));
        } else {
            n = read_value(x, scratch, sizeof(scratch));
        }
        if (n == -1)
            return -1;
    }
    if (prop) {
        if (key[0] == '\0' || key_long)
            seed_note(x->s, "OVF: a Property without a usable key: ignored");
        else if (vlen == -2)
            seed_note(x->s, "OVF property %.40s: the value is longer than %d bytes: skipped", key,
                      SETTING_VALUE_MAX - 1);
        else if (vlen == -3)
            seed_note(x->s, "OVF property %.40s: no value: ignored", key);
        else
            take_property(x->s, key, value, (size_t)vlen);
    }
    if (x->depth == 0 && strcmp(name, "Environment") != 0) {
        seed_note(x->s, "OVF: the document is a <%s>, not an OVF <Environment>", name);
        return -2;
    }
    if (!empty) {
        if (x->depth >= XML_DEPTH_MAX)
            return -1;
        snprintf(x->stack[x->depth++], XML_NAME_MAX, "%s", name);
    }
    return 0;
}

int seed_parse_ovf(struct seed *s, const char *xml, size_t len)
{
    struct xml x = {.p = xml, .end = xml + len, .s = s};
    bool seen_root = false;

    if (len > SEED_FILE_MAX) {
        seed_note(s, "OVF: ovf-env.xml is larger than %d bytes: not read", SEED_FILE_MAX);
        return -1;
    }
    if (memchr(xml, '\0', len)) {
        seed_note(s, "OVF: ovf-env.xml holds a NUL byte: not read");
        return -1;
    }
    while (x.p < x.end) {
        if (*x.p != '<') {
            if (x.depth == 0 && !is_space(*x.p))
                goto bad;
            x.p++;
            continue;
        }
        x.p++;
        if (starts(&x, "?")) {
            if (!skip_past(&x, "?>"))
                goto bad;
        } else if (starts(&x, "!--")) {
            if (!skip_past(&x, "-->"))
                goto bad;
        } else if (starts(&x, "!")) {
            /* DOCTYPE (entities) and CDATA are not part of an OVF environment */
            seed_note(s, "OVF: ovf-env.xml has a DOCTYPE or CDATA section: not read");
            return -1;
        } else if (starts(&x, "/")) {
            char name[XML_NAME_MAX];
            x.p++;
            if (!read_name(&x, name) || x.depth == 0 || strcmp(name, x.stack[x.depth - 1]) != 0)
                goto bad;
            skip_space(&x);
            if (x.p >= x.end || *x.p != '>')
                goto bad;
            x.p++;
            x.depth--;
        } else {
            if (seen_root && x.depth == 0)
                goto bad;
            int r = start_tag(&x);
            if (r == -2)
                return -1;
            if (r != 0)
                goto bad;
            seen_root = true;
        }
    }
    if (!seen_root || x.depth != 0)
        goto bad;
    return 0;
bad:
    seed_note(s, "OVF: ovf-env.xml is not well-formed XML (near byte %ld): not read",
              (long)(x.p - xml));
    s->nitems = 0; /* never half-applied */
    return -1;
}
