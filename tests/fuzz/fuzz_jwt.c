/* JWT subscribe tokens (jwt_verify). Input: one byte of flags, then either a
 * raw token, or (flag 1) a header and a payload separated by a NUL byte,
 * which the harness base64url-encodes and signs with the algorithm the
 * header names, using the ring's key or (flag 2) a key the server does not
 * hold.
 * Properties: a token signed with a foreign key is never accepted and its
 * payload never judged (no EXPIRED/NOT_YET: the signature comes first); a
 * token signed right is never refused for its signature; a flipped signature
 * bit is never accepted; accepted claims match the payload as jansson reads
 * it; every base64url part that decodes re-encodes to the same text (one
 * encoding per byte string). */
#include "../../server/src/jwt.c"
#include "../../server/src/sign.c"
#include "../../server/src/util.c"

#include "fuzz.h"

#define NOW 1765000000

static const char key[] = "current-signature-key-0123456789";
static struct sign_keyring ring = {SIGN_SHA256, 1, {(char *)key}, {sizeof key - 1}};

static char *b64(const uint8_t *p, size_t len, char *out)
{
    return out + jwt_b64url_encode(p, len, out);
}

/* "sub" as jwt_verify reports it. */
static bool same_sub(const json_t *v, const char *sub)
{
    char num[32];
    if (!v || json_is_null(v))
        return sub == NULL;
    if (json_is_string(v))
        return sub && strlen(sub) == json_string_length(v) &&
               strcmp(sub, json_string_value(v)) == 0;
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return sub && strcmp(sub, num) == 0;
}

static void check_claims(const uint8_t *pl, size_t pl_len, const struct jwt_claims *c)
{
    json_t *j = json_loadb((const char *)pl, pl_len, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(json_is_object(j));
    FUZZ_CHECK(same_sub(json_object_get(j, "sub"), c->sub));
    const json_t *iss = json_object_get(j, "iss");
    FUZZ_CHECK((iss && json_is_string(iss)) ? c->iss && strcmp(c->iss, json_string_value(iss)) == 0
                                            : c->iss == NULL);
    for (size_t i = 0; i < c->n_chan; i++) {
        size_t n = strlen(c->chan[i]);
        FUZZ_CHECK(n > 0 && !strchr(" \t", c->chan[i][0]) && !strchr(" \t", c->chan[i][n - 1]));
        FUZZ_CHECK(!json_is_string(json_object_get(j, "chan")) || !strchr(c->chan[i], ','));
    }
    if (json_object_get(j, "exp"))
        FUZZ_CHECK(c->exp > NOW - JWT_LEEWAY);
    json_decref(j);
}

static void check_b64_parts(const char *t, size_t len)
{
    size_t start = 0;
    while (start <= len) {
        const char *dot = memchr(t + start, '.', len - start);
        size_t end = dot ? (size_t)(dot - t) : len;
        uint8_t *raw = malloc((end - start) * 3 / 4 + 1);
        ssize_t n = jwt_b64url_decode(t + start, end - start, raw);
        if (n >= 0) {
            char *again = malloc((size_t)n * 4 / 3 + 4);
            FUZZ_CHECK(jwt_b64url_encode(raw, (size_t)n, again) == end - start);
            FUZZ_CHECK(memcmp(again, t + start, end - start) == 0);
            free(again);
        }
        free(raw);
        start = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 3 * JWT_MAX_LEN)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    struct jwt_claims c;
    char *tok;
    size_t len;
    const uint8_t *pl = NULL;
    size_t pl_len = 0;
    bool foreign = false, signed_right = false;

    if (flags & 1) {
        const uint8_t *nul = memchr(in, 0, n);
        if (!nul)
            return 0;
        size_t hl = (size_t)(nul - in);
        pl = nul + 1;
        pl_len = n - hl - 1;
        json_t *h = json_loadb((const char *)in, hl, JSON_REJECT_DUPLICATES, NULL);
        const char *alg = json_string_value(json_object_get(h, "alg"));
        const EVP_MD *md = alg && strcmp(alg, "HS512") == 0 ? EVP_sha512() : EVP_sha256();
        signed_right = alg && (strcmp(alg, "HS512") == 0 || strcmp(alg, "HS256") == 0);
        json_decref(h);
        foreign = flags & 2;
        const char *k = foreign ? "a-key-the-server-does-not-hold" : key;
        tok = malloc(n * 4 / 3 + 200);
        char *p = b64(in, hl, tok);
        *p++ = '.';
        p = b64(pl, pl_len, p);
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        HMAC(md, k, (int)strlen(k), (const uint8_t *)tok, (size_t)(p - tok), mac, &mac_len);
        *p++ = '.';
        p = b64(mac, mac_len, p);
        len = (size_t)(p - tok);
    } else {
        tok = malloc(n ? n : 1);
        memcpy(tok, in, n);
        len = n;
        check_b64_parts(tok, len);
    }

    int rc = jwt_verify(&ring, tok, len, NOW, &c);
    FUZZ_CHECK(rc <= 0 && rc >= JWT_NOT_YET);
    if (rc != JWT_OK)
        FUZZ_CHECK(c.sub == NULL && c.chan == NULL && c.n_chan == 0 && c.iss == NULL);
    if (foreign)
        FUZZ_CHECK(rc == JWT_MALFORMED || rc == JWT_BAD_ALG || rc == JWT_BAD_SIGNATURE);
    if (signed_right && !foreign && len <= JWT_MAX_LEN)
        FUZZ_CHECK(rc != JWT_BAD_SIGNATURE);
    if (rc == JWT_OK && pl)
        check_claims(pl, pl_len, &c);
    jwt_claims_free(&c);

    if (rc == JWT_OK || rc == JWT_EXPIRED || rc == JWT_NOT_YET) {
        /* the last character holds signature bits: flipping one breaks it */
        char save = tok[len - 1];
        tok[len - 1] = save == 'A' ? 'Q' : 'A';
        FUZZ_CHECK(jwt_verify(&ring, tok, len, NOW, &c) != JWT_OK);
        jwt_claims_free(&c);
        tok[len - 1] = save;
    }
    free(tok);
    return 0;
}
