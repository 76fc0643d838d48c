#include "first.h"

#include "jwt.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* php-jwt's header; jwt_sign_hs256() emits exactly this. */
static const char jwt_hs256_header[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";

/* ---- base64url (RFC 7515 §2: no padding) ---- */

/* Decodes len chars of s into out (room for len * 3 / 4 bytes). Strict:
 * no padding, no whitespace, and the unused low bits of the last char must
 * be zero, so that each byte string has exactly one encoding and a
 * signature cannot be re-encoded into a second accepted token. Returns the
 * byte count or -1. */
static ssize_t jwt_b64url_decode(const char *s, size_t len, uint8_t *out)
{
    uint32_t acc = 0;
    size_t bits = 0, n = 0;

    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = base64_digit_value(s[i], true);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;
    return (ssize_t)n;
}

/* Appends the base64url form of p[0..len) at out; returns chars written
 * (no NUL). out needs (len * 4 + 2) / 3 bytes. */
static size_t jwt_b64url_encode(const uint8_t *p, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    size_t bits = 0, n = 0;

    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[n++] = alphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[n++] = alphabet[(acc << (6 - bits)) & 63];
    return n;
}

/* Decodes one part into a fresh NUL-terminated heap buffer (the caller
 * frees); NULL if it is not valid base64url. */
static uint8_t *jwt_part_decode(const char *s, size_t len, size_t *out_len)
{
    uint8_t *p = xmalloc(len * 3 / 4 + 1);
    ssize_t n = jwt_b64url_decode(s, len, p);

    if (n < 0) {
        free(p);
        return NULL;
    }
    p[n] = '\0';
    *out_len = (size_t)n;
    return p;
}

/* Parses decoded JSON that must be an object. Duplicate names are refused:
 * two "exp" members would let two readers of one token disagree. */
static json_t *jwt_json_object(const uint8_t *p, size_t len)
{
    json_t *j = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL);

    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- header and signature ---- */

/* Maps the header to a digest: HS256 and HS512 only. "crit" names
 * extensions we would have to understand (RFC 7515 §4.1.11); we know none. */
static int jwt_header_md(const json_t *hdr, const EVP_MD **md)
{
    const json_t *alg = json_object_get(hdr, "alg");
    const json_t *typ = json_object_get(hdr, "typ");

    if (typ && !(json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0))
        return JWT_MALFORMED;
    if (json_object_get(hdr, "crit"))
        return JWT_BAD_ALG;
    if (!json_is_string(alg))
        return JWT_BAD_ALG;
    if (strcmp(json_string_value(alg), "HS256") == 0)
        *md = EVP_sha256();
    else if (strcmp(json_string_value(alg), "HS512") == 0)
        *md = EVP_sha512();
    else
        return JWT_BAD_ALG;
    return JWT_OK;
}

/* True when sig is HMAC(md, key, signing_input) under any non-empty key of
 * the ring. Every key is tried, each compared in constant time. An empty
 * key is skipped: anyone can sign with it. */
static bool jwt_check_sig(const struct sign_keyring *kr, const EVP_MD *md, const char *input,
                          size_t input_len, const uint8_t *sig, size_t sig_len)
{
    size_t dlen = (size_t)EVP_MD_get_size(md);
    bool match = false;

    if (sig_len != dlen)
        return false;
    for (size_t i = 0; i < kr->n_keys && i < SIGN_MAX_KEYS; i++) {
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;

        if (kr->key_len[i] == 0 || kr->key_len[i] > INT32_MAX)
            continue;
        if (!HMAC(md, kr->keys[i], (int)kr->key_len[i], (const uint8_t *)input, input_len, mac,
                  &mac_len) ||
            mac_len != dlen)
            continue;
        match |= ct_equal(mac, sig, dlen);
    }
    return match;
}

/* ---- claims ---- */

/* A NumericDate (RFC 7519 §2): integer or real seconds. Reals are
 * truncated; values beyond int64 are malformed rather than undefined. */
static bool jwt_numeric_date(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);

        if (!(d > -9.2e18 && d < 9.2e18))
            return false;
        *out = (int64_t)d;
        return true;
    }
    return false;
}

/* Adds one chan entry with surrounding blanks trimmed; empty ones are
 * skipped ("a,,b" and a trailing comma occur in hand-made configs). */
static void jwt_chan_add(struct jwt_claims *c, const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (!len)
        return;
    c->chan = xrealloc(c->chan, (c->n_chan + 1) * sizeof(*c->chan));
    c->chan[c->n_chan++] = xstrndup(s, len);
}

/* "chan" is a comma-separated string in most module versions and an array
 * of strings in some. */
static bool jwt_take_chan(const json_t *v, struct jwt_claims *c)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);

        while (len) {
            const char *comma = memchr(s, ',', len);
            size_t n = comma ? (size_t)(comma - s) : len;

            jwt_chan_add(c, s, n);
            if (!comma)
                break;
            s += n + 1;
            len -= n + 1;
        }
        return true;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);

            if (!json_is_string(e))
                return false;
            jwt_chan_add(c, json_string_value(e), json_string_length(e));
        }
        return true;
    }
    return false;
}

/* Fills c from the payload object and applies the time checks. c is
 * freed by the caller on error. */
static int jwt_take_claims(const json_t *pl, int64_t now, struct jwt_claims *c)
{
    const json_t *v;
    int64_t nbf = 0;
    bool has_exp = false, has_nbf = false, has_iat = false;
    /* Saturated so that a caller's odd clock cannot overflow. */
    int64_t lo = now < INT64_MIN + JWT_LEEWAY ? INT64_MIN : now - JWT_LEEWAY;
    int64_t hi = now > INT64_MAX - JWT_LEEWAY ? INT64_MAX : now + JWT_LEEWAY;

    if ((v = json_object_get(pl, "exp")) && !(has_exp = jwt_numeric_date(v, &c->exp)))
        return JWT_MALFORMED;
    if ((v = json_object_get(pl, "nbf")) && !(has_nbf = jwt_numeric_date(v, &nbf)))
        return JWT_MALFORMED;
    if ((v = json_object_get(pl, "iat")) && !(has_iat = jwt_numeric_date(v, &c->iat)))
        return JWT_MALFORMED;

    if ((v = json_object_get(pl, "sub")) && !json_is_null(v)) {
        if (json_is_string(v)) {
            c->sub = xstrndup(json_string_value(v), json_string_length(v));
        } else if (json_is_integer(v)) {
            char num[24];

            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            c->sub = xstrdup(num);
        } else {
            return JWT_MALFORMED;
        }
    }
    if ((v = json_object_get(pl, "iss")) && !json_is_null(v)) {
        if (!json_is_string(v))
            return JWT_MALFORMED;
        c->iss = xstrndup(json_string_value(v), json_string_length(v));
    }
    if ((v = json_object_get(pl, "chan")) && !json_is_null(v) && !jwt_take_chan(v, c))
        return JWT_MALFORMED;

    if (has_exp && c->exp <= lo)
        return JWT_EXPIRED;
    if ((has_nbf && nbf > hi) || (has_iat && c->iat > hi))
        return JWT_NOT_YET;
    return JWT_OK;
}

/* ---- public API ---- */

/* memchr over [p, end), which may be empty (p == end is one past the token). */
static const char *jwt_find_dot(const char *p, const char *end)
{
    return p < end ? memchr(p, '.', (size_t)(end - p)) : NULL;
}

/* Called for each V5 subscribe with the `token` query value. Decodes the
 * three parts, parses the header only far enough to pick the HMAC,
 * verifies the signature, and only then parses the payload. */
int jwt_verify(const struct sign_keyring *kr, const char *token, size_t len, int64_t now,
               struct jwt_claims *out)
{
    const char *dot1, *dot2;
    uint8_t *hdr_raw = NULL, *sig = NULL, *pl_raw = NULL;
    size_t hdr_len, sig_len, pl_len;
    json_t *hdr = NULL, *pl = NULL;
    const EVP_MD *md = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!token || len == 0 || len > JWT_MAX_LEN)
        return JWT_MALFORMED;
    dot1 = jwt_find_dot(token, token + len);
    dot2 = dot1 ? jwt_find_dot(dot1 + 1, token + len) : NULL;
    if (!dot2 || jwt_find_dot(dot2 + 1, token + len))
        return JWT_MALFORMED;

    /* All three parts must be strict base64url before anything else, so
     * that a token is malformed or not regardless of the key. */
    rc = JWT_MALFORMED;
    hdr_raw = jwt_part_decode(token, (size_t)(dot1 - token), &hdr_len);
    pl_raw = jwt_part_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &pl_len);
    sig = jwt_part_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &sig_len);
    if (!hdr_raw || !pl_raw || !sig)
        goto done;
    if (!(hdr = jwt_json_object(hdr_raw, hdr_len)))
        goto done;
    if ((rc = jwt_header_md(hdr, &md)) != JWT_OK)
        goto done;

    rc = JWT_BAD_SIGNATURE;
    if (!jwt_check_sig(kr, md, token, (size_t)(dot2 - token), sig, sig_len))
        goto done;

    /* Only now is the payload trusted enough to be parsed. */
    rc = JWT_MALFORMED;
    if (!(pl = jwt_json_object(pl_raw, pl_len)))
        goto done;
    rc = jwt_take_claims(pl, now, out);

done:
    if (rc != JWT_OK)
        jwt_claims_free(out);
    json_decref(pl);
    json_decref(hdr);
    free(pl_raw);
    free(sig);
    free(hdr_raw);
    return rc;
}

void jwt_claims_free(struct jwt_claims *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_chan; i++)
        free(c->chan[i]);
    free(c->chan);
    free(c->sub);
    free(c->iss);
    memset(c, 0, sizeof(*c));
}

/* Used by the tests and by setup tools that need a token for a probe. The
 * payload is claims_json byte for byte, so tests control exactly what is
 * signed. */
char *jwt_sign_hs256(const char *key, size_t key_len, const char *claims_json)
{
    static const uint8_t empty[1];
    size_t hdr_len = sizeof(jwt_hs256_header) - 1, cl_len;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    json_t *j;
    char *tok;
    size_t n = 0;

    if (!claims_json || key_len > INT32_MAX)
        return NULL;
    cl_len = strlen(claims_json);
    j = jwt_json_object((const uint8_t *)claims_json, cl_len);
    if (!j)
        return NULL;
    json_decref(j);

    tok = xmalloc((hdr_len * 4 + 2) / 3 + 1 + (cl_len * 4 + 2) / 3 + 1 +
                  (EVP_MAX_MD_SIZE * 4 + 2) / 3 + 1);
    n += jwt_b64url_encode((const uint8_t *)jwt_hs256_header, hdr_len, tok + n);
    tok[n++] = '.';
    n += jwt_b64url_encode((const uint8_t *)claims_json, cl_len, tok + n);
    /* OpenSSL 3.0 rejects a NULL key even with length 0. */
    if (!HMAC(EVP_sha256(), key_len ? (const void *)key : empty, (int)key_len, (const uint8_t *)tok,
              n, mac, &mac_len)) {
        free(tok);
        return NULL;
    }
    tok[n++] = '.';
    n += jwt_b64url_encode(mac, mac_len, tok + n);
    tok[n] = '\0';
    return tok;
}
