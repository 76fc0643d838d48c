#include "first.h"

#include "sign.h"
#include "util.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* "public:" + 32 hex chars, the value signed for a public channel ref. */
#define SIGN_PUBLIC_PREFIX "public:"
#define SIGN_PUBLIC_VALUE_LEN (sizeof(SIGN_PUBLIC_PREFIX) - 1 + CHANNEL_ID_LEN)

/* Signature lengths a subscribe element may carry (docs/protocol.md §3): from
 * sha1 up to sha512 hex, so that a ring on another algo fails the
 * signature check rather than the syntax check. */
#define SIGN_SIG_MIN_HEX 40
#define SIGN_SIG_MAX_HEX 128

/* ---- HMAC ---- */

static const EVP_MD *sign_md(enum sign_algo algo)
{
    return algo == SIGN_SHA256 ? EVP_sha256() : EVP_sha1();
}

static size_t sign_digest_len(enum sign_algo algo)
{
    return algo == SIGN_SHA256 ? 32 : 20;
}

/* Computes the HMAC with libcrypto's one-shot HMAC(). Returns the digest
 * length, or 0 if libcrypto refused (callers then verify nothing). */
size_t sign_hmac_raw(enum sign_algo algo, const char *key, size_t key_len, const void *data,
                     size_t len, uint8_t out[64])
{
    /* OpenSSL 3.0 rejects a NULL key even with length 0, and a NULL data
     * pointer is not something to hand it either. */
    static const uint8_t empty[1];
    unsigned int md_len = 0;

    if (key_len > INT32_MAX)
        return 0;
    if (!HMAC(sign_md(algo), key_len ? (const void *)key : empty, (int)key_len, len ? data : empty,
              len, out, &md_len))
        return 0;
    return md_len;
}

/* Hex form of sign_hmac_raw(); out is "" on failure. */
void sign_hmac_hex(enum sign_algo algo, const char *key, size_t key_len, const void *data,
                   size_t len, char out[129])
{
    uint8_t raw[64];
    size_t n = sign_hmac_raw(algo, key, key_len, data, len, raw);

    hex_encode(raw, n, out);
}

/* ---- verification ---- */

/* Tries every non-empty key; all keys are always tried so that timing does
 * not tell which key (if any) matched. A signature of another length than
 * the ring's digest never matches. */
bool sign_check_raw(const struct sign_keyring *kr, const char *value, size_t value_len,
                    const uint8_t *sig, size_t sig_len)
{
    size_t dlen = sign_digest_len(kr->algo);
    bool match = false;

    if (sig_len != dlen)
        return false;
    for (size_t i = 0; i < kr->n_keys && i < SIGN_MAX_KEYS; i++) {
        uint8_t mac[64];

        if (kr->key_len[i] == 0)
            continue;
        if (sign_hmac_raw(kr->algo, kr->keys[i], kr->key_len[i], value, value_len, mac) != dlen)
            continue;
        match |= ct_equal(mac, sig, dlen);
    }
    return match;
}

/* Decodes the hex signature first, so that case does not matter and the
 * comparison runs on bytes of a fixed length. */
bool sign_check_hex(const struct sign_keyring *kr, const char *value, size_t value_len,
                    const char *sig, size_t sig_len)
{
    size_t dlen = sign_digest_len(kr->algo);
    uint8_t raw[64];

    if (sig_len != 2 * dlen || !hex_decode(sig, sig_len, raw, dlen))
        return false;
    return sign_check_raw(kr, value, value_len, raw, dlen);
}

bool sign_check_public_raw(const struct sign_keyring *kr, const uint8_t id[16], const uint8_t *sig,
                           size_t sig_len)
{
    char value[SIGN_PUBLIC_VALUE_LEN + 1];

    memcpy(value, SIGN_PUBLIC_PREFIX, sizeof(SIGN_PUBLIC_PREFIX) - 1);
    hex_encode(id, 16, value + sizeof(SIGN_PUBLIC_PREFIX) - 1);
    return sign_check_raw(kr, value, SIGN_PUBLIC_VALUE_LEN, sig, sig_len);
}

/* ---- parsing ---- */

static bool sign_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Copies a 32-hex-char id at s into out (lower case + NUL); false if any
 * char is not hex. The caller has checked that 32 bytes are there. */
static bool sign_take_id(const char *s, char out[CHANNEL_ID_LEN + 1])
{
    for (size_t i = 0; i < CHANNEL_ID_LEN; i++) {
        char c = s[i];

        if (!sign_is_hex(c))
            return false;
        out[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }
    out[CHANNEL_ID_LEN] = '\0';
    return true;
}

/* Checks that s[0..len) is the ".<sig>" tail of an element, or empty.
 * Sets *sig and *sig_len (NULL and 0 when absent). */
static bool sign_take_sig(const char *s, size_t len, const char **sig, size_t *sig_len)
{
    *sig = NULL;
    *sig_len = 0;
    if (len == 0)
        return true;
    if (s[0] != '.')
        return false;
    s++;
    len--;
    if (len < SIGN_SIG_MIN_HEX || len > SIGN_SIG_MAX_HEX || len % 2 != 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!sign_is_hex(s[i]))
            return false;
    *sig = s;
    *sig_len = len;
    return true;
}

/* Grammar (PS2 transports/connection.js, made case-insensitive):
 *   element = id [ ":" id ] [ "." 40*128hex ]
 * Lengths are checked before any byte is read, so s never needs a NUL. */
int sign_parse_channel(const struct sign_keyring *kr, const char *s, size_t len,
                       bool require_signature, struct channel_ref *out)
{
    struct channel_ref r;
    const char *sig;
    size_t pos = CHANNEL_ID_LEN, sig_len;
    /* "priv:pub" is what the signature covers in the paired form. */
    char value[2 * CHANNEL_ID_LEN + 2];
    size_t value_len = CHANNEL_ID_LEN;

    memset(&r, 0, sizeof(r));
    if (len < CHANNEL_ID_LEN || !sign_take_id(s, r.priv))
        return SIGN_BAD_FORMAT;
    if (pos < len && s[pos] == ':') {
        pos++;
        if (len - pos < CHANNEL_ID_LEN || !sign_take_id(s + pos, r.pub))
            return SIGN_BAD_FORMAT;
        pos += CHANNEL_ID_LEN;
        r.has_pub = true;
    }
    if (!sign_take_sig(s + pos, len - pos, &sig, &sig_len))
        return SIGN_BAD_FORMAT;

    memcpy(value, r.priv, CHANNEL_ID_LEN);
    if (r.has_pub) {
        value[CHANNEL_ID_LEN] = ':';
        memcpy(value + CHANNEL_ID_LEN + 1, r.pub, CHANNEL_ID_LEN);
        value_len = 2 * CHANNEL_ID_LEN + 1;
    }
    r.signed_ok = sig && sign_check_hex(kr, value, value_len, sig, sig_len);
    if (require_signature && !r.signed_ok)
        return SIGN_BAD_SIGNATURE;
    *out = r;
    return SIGN_OK;
}

int sign_parse_channel_list(const struct sign_keyring *kr, const char *s, size_t len,
                            bool require_signature, struct channel_ref *out, size_t max, size_t *n)
{
    size_t count = 0, start = 0;

    *n = 0;
    while (start < len) {
        const char *slash = memchr(s + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - s) : len;

        if (end > start) {
            int rc;

            if (count == max)
                return SIGN_TOO_MANY;
            rc = sign_parse_channel(kr, s + start, end - start, require_signature, &out[count]);
            if (rc != SIGN_OK)
                return rc;
            count++;
        }
        start = end + 1;
    }
    *n = count;
    return SIGN_OK;
}

int sign_parse_public_ref(const struct sign_keyring *kr, const char *s, size_t len,
                          char pub_out[CHANNEL_ID_LEN + 1])
{
    char pub[CHANNEL_ID_LEN + 1];
    char value[SIGN_PUBLIC_VALUE_LEN + 1];
    const char *sig;
    size_t sig_len;

    if (len < CHANNEL_ID_LEN || !sign_take_id(s, pub))
        return SIGN_BAD_FORMAT;
    if (!sign_take_sig(s + CHANNEL_ID_LEN, len - CHANNEL_ID_LEN, &sig, &sig_len))
        return SIGN_BAD_FORMAT;
    if (!sig)
        return SIGN_BAD_SIGNATURE;

    memcpy(value, SIGN_PUBLIC_PREFIX, sizeof(SIGN_PUBLIC_PREFIX) - 1);
    memcpy(value + sizeof(SIGN_PUBLIC_PREFIX) - 1, pub, CHANNEL_ID_LEN + 1);
    if (!sign_check_hex(kr, value, SIGN_PUBLIC_VALUE_LEN, sig, sig_len))
        return SIGN_BAD_SIGNATURE;
    memcpy(pub_out, pub, CHANNEL_ID_LEN + 1);
    return SIGN_OK;
}
