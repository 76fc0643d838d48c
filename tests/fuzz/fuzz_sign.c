/* Channel signatures: one subscribe element (sign_parse_channel), a
 * CHANNEL_ID list (sign_parse_channel_list) and a public reference
 * (sign_parse_public_ref). Input: one byte of flags (require a signature;
 * SHA-256 or SHA-1; replace what follows the last '.' by the right
 * signature, made with the current or the previous key), one byte for the
 * list's room, then the text.
 * Property: each answer is exactly what a reference reading of the grammar
 * (id [":" id] ["." 40..128 hex], case-insensitive) and a plain HMAC
 * comparison give: the ids, whether it is signed, and which error. A right
 * signature is always accepted, a wrong one never is. */
#include "../../server/src/sign.c"
#include "../../server/src/util.c"

#include "fuzz.h"

#include <strings.h>

static const char *const keys[2] = {"current-signature-key-0123456789", "previous-key"};
static struct sign_keyring ring;

struct ref {
    bool format_ok;
    char priv[33], pub[33];
    bool has_pub;
    const char *sig;
    size_t sig_len;
};

static bool take_hex_id(const char *s, char *out)
{
    for (int i = 0; i < 32; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
        out[i] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
    }
    out[32] = 0;
    return true;
}

static struct ref ref_parse(const char *s, size_t len, bool pair_allowed)
{
    struct ref r = {0};
    size_t pos = 32;
    if (len < 32 || !take_hex_id(s, r.priv))
        return r;
    if (pair_allowed && pos < len && s[pos] == ':') {
        if (len - pos - 1 < 32 || !take_hex_id(s + pos + 1, r.pub))
            return r;
        r.has_pub = true;
        pos += 33;
    }
    if (pos < len) {
        size_t n = len - pos - 1;
        if (s[pos] != '.' || n < 40 || n > 128 || n % 2)
            return r;
        for (size_t i = 0; i < n; i++)
            if (!s[pos + 1 + i] || !strchr("0123456789abcdefABCDEF", s[pos + 1 + i]))
                return r;
        r.sig = s + pos + 1;
        r.sig_len = n;
    }
    r.format_ok = true;
    return r;
}

/* The signed value: "priv", "priv:pub" or "public:pub". */
static size_t ref_value(const struct ref *r, bool public_ref, char *out)
{
    if (public_ref)
        return (size_t)sprintf(out, "public:%s", r->priv);
    if (r->has_pub)
        return (size_t)sprintf(out, "%s:%s", r->priv, r->pub);
    return (size_t)sprintf(out, "%s", r->priv);
}

static bool ref_signed(const struct ref *r, bool public_ref)
{
    char value[80], mac[129];
    size_t vlen = ref_value(r, public_ref, value);
    if (!r->sig)
        return false;
    for (int k = 0; k < 2; k++) {
        sign_hmac_hex(ring.algo, keys[k], strlen(keys[k]), value, vlen, mac);
        if (strlen(mac) == r->sig_len && strncasecmp(mac, r->sig, r->sig_len) == 0)
            return true;
    }
    return false;
}

static int ref_channel(const char *s, size_t len, bool require, struct channel_ref *out)
{
    struct ref r = ref_parse(s, len, true);
    if (!r.format_ok)
        return SIGN_BAD_FORMAT;
    bool ok = ref_signed(&r, false);
    if (require && !ok)
        return SIGN_BAD_SIGNATURE;
    memset(out, 0, sizeof *out);
    memcpy(out->priv, r.priv, 33);
    memcpy(out->pub, r.has_pub ? r.pub : "", r.has_pub ? 33 : 1);
    out->has_pub = r.has_pub;
    out->signed_ok = ok;
    return SIGN_OK;
}

static bool same_ref(const struct channel_ref *a, const struct channel_ref *b)
{
    return strcmp(a->priv, b->priv) == 0 && a->has_pub == b->has_pub &&
           (!a->has_pub || strcmp(a->pub, b->pub) == 0) && a->signed_ok == b->signed_ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 4096)
        return 0;
    uint8_t flags = data[0];
    bool require = flags & 1, fill = flags & 4, upper = flags & 16;
    size_t room = data[1] % 20;
    ring.algo = flags & 2 ? SIGN_SHA256 : SIGN_SHA1;
    ring.n_keys = 2;
    for (int k = 0; k < 2; k++) {
        ring.keys[k] = (char *)keys[k];
        ring.key_len[k] = strlen(keys[k]);
    }

    size_t len = size - 2;
    char *s = malloc(len + 140);
    memcpy(s, data + 2, len);
    bool public_ref = flags & 32;
    if (fill) {
        /* sign what precedes the last '.', as the real key holder would */
        char *dot = memrchr(s, '.', len);
        if (dot) {
            struct ref r = ref_parse(s, (size_t)(dot - s), !public_ref);
            if (r.format_ok) {
                char value[80], mac[129];
                size_t vlen = ref_value(&r, public_ref, value);
                const char *key = keys[flags >> 3 & 1];
                sign_hmac_hex(ring.algo, key, strlen(key), value, vlen, mac);
                for (char *m = mac; upper && *m; m++)
                    *m = (char)(*m >= 'a' ? *m - 32 : *m);
                len = (size_t)(dot - s) + 1;
                memcpy(s + len, mac, strlen(mac));
                len += strlen(mac);
            }
        }
    }
    char *t = malloc(len ? len : 1); /* exact size: ASan sees any read past it */
    memcpy(t, s, len);
    free(s);

    struct channel_ref a, b;
    memset(&a, 0, sizeof a);
    int ra = sign_parse_channel(&ring, t, len, require, &a);
    int rb = ref_channel(t, len, require, &b);
    FUZZ_CHECK(ra == rb);
    if (ra == SIGN_OK)
        FUZZ_CHECK(same_ref(&a, &b));

    char pub[33];
    int rp = sign_parse_public_ref(&ring, t, len, pub);
    struct ref r = ref_parse(t, len, false);
    int want = !r.format_ok ? SIGN_BAD_FORMAT : ref_signed(&r, true) ? SIGN_OK : SIGN_BAD_SIGNATURE;
    FUZZ_CHECK(rp == want);
    if (rp == SIGN_OK)
        FUZZ_CHECK(strcmp(pub, r.priv) == 0);

    struct channel_ref list[20], one;
    size_t n = 99, count = 0, start = 0;
    int rl = sign_parse_channel_list(&ring, t, len, require, list, room, &n);
    int wl = SIGN_OK;
    while (start < len && wl == SIGN_OK) {
        const char *slash = memchr(t + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - t) : len;
        if (end > start) {
            if (count == room)
                wl = SIGN_TOO_MANY;
            else if ((wl = ref_channel(t + start, end - start, require, &one)) == SIGN_OK)
                FUZZ_CHECK(rl != SIGN_OK || same_ref(&list[count], &one));
            count += wl == SIGN_OK;
        }
        start = end + 1;
    }
    FUZZ_CHECK(rl == wl && n == (rl == SIGN_OK ? count : 0));
    free(t);
    return 0;
}
