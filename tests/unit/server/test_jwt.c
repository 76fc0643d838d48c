/* Unit tests for server/src/jwt.c: tokens made by jwt_sign_hs256, tokens
 * made outside this code base, refused algorithms, tampering, time
 * claims, strict base64url and the claim shapes Bitrix modules send.
 * Tokens are copied to end at a PROT_NONE page so that any read past len
 * faults. */
#include "../../../server/src/first.h"

#include "../../../server/src/util.c"
#include "../../../server/src/sign.c"
#include "../../../server/src/jwt.c"

#include "guard.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>


/* ---- fixtures ---- */

static char key_cur[] = "Pu11b0xSecretKey.2024";
static char key_old[] = "old-rotated-key";

static struct sign_keyring ring1 = {SIGN_SHA1, 1, {key_cur}, {sizeof(key_cur) - 1}};
static struct sign_keyring ring2 = {
    SIGN_SHA1, 2, {key_old, key_cur}, {sizeof(key_old) - 1, sizeof(key_cur) - 1}};
static struct sign_keyring ring_none = {SIGN_SHA1, 0, {NULL}, {0}};
static struct sign_keyring ring_empty_key = {SIGN_SHA1, 1, {(char *)""}, {0}};

#define NOW INT64_C(1700000100)

/* Made outside this code base with Python's hmac/hashlib/base64 (key
 * key_cur, header in php-jwt and in other member order):
 *   si = b64url(header) + "." + b64url(payload)
 *   tok = si + "." + b64url(hmac.new(key, si, sha256 or sha512).digest()) */
/* {"alg":"HS256","typ":"JWT"} . {"iss":"b24-host-7f3a","iat":1700000000,"exp":1700043200,
 *  "sub":"42","chan":"8f14e45fceea167a5a36dedd4bea2543,c9f0f895fb98ab9159f51fd0297e236d"} */
static const char ext_hs256[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJiMjQtaG9zdC03ZjNhIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwNDMyMDAsInN1YiI6IjQyIiwi"
    "Y2hhbiI6IjhmMTRlNDVmY2VlYTE2N2E1YTM2ZGVkZDRiZWEyNTQzLGM5ZjBmODk1ZmI5OGFiOTE1OWY1MWZkMDI5N2Uy"
    "MzZkIn0.1LBqVCxK9zfRzSnbqWQdItpv--N5MvCd-FcjgbHKW7c";
/* {"typ":"JWT","alg":"HS512"} . {"iss":"b24-host-7f3a","iat":1700000000,"exp":1700043200,
 *  "sub":42,"chan":["8f14e45fceea167a5a36dedd4bea2543","c9f0f895fb98ab9159f51fd0297e236d"]} */
static const char ext_hs512[] =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9."
    "eyJpc3MiOiJiMjQtaG9zdC03ZjNhIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwNDMyMDAsInN1YiI6NDIsImNo"
    "YW4iOlsiOGYxNGU0NWZjZWVhMTY3YTVhMzZkZWRkNGJlYTI1NDMiLCJjOWYwZjg5NWZiOThhYjkxNTlmNTFmZDAyOTdl"
    "MjM2ZCJdfQ.wRS103bR315JKMEb1k4S923xEs3N1kZZVzoALLANBMAarE7XYsf_7MFw52AxnFprYdSdHUQQGwP0oO4R2y0"
    "bYg";
/* What jwt_sign_hs256(key_cur, "{\"sub\":\"7\",\"exp\":1700043200}") must produce, byte for
 * byte (php-jwt header order). */
static const char ext_sign_expect[] =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3IiwiZXhwIjoxNzAwMDQzMjAwfQ."
    "sCMJXUEbMmOp5CDyPe7ZB2VsaesA3kTpTa3dvllhCHk";

#define CHAN_A "8f14e45fceea167a5a36dedd4bea2543"
#define CHAN_B "c9f0f895fb98ab9159f51fd0297e236d"

static int verify(const struct sign_keyring *kr, const char *tok, int64_t now, struct jwt_claims *c)
{
    size_t len = strlen(tok);

    return jwt_verify(kr, guard_copy(tok, len), len, now, c);
}

/* Builds a token with any header, signed with md (NULL: signature part
 * given verbatim in raw_sig). Caller frees. */
static char *make_token(const char *hdr, const char *payload, const EVP_MD *md, const char *key,
                        const char *raw_sig)
{
    size_t hl = strlen(hdr), pl = strlen(payload);
    char *t = xmalloc(hl * 2 + pl * 2 + 200 + (raw_sig ? strlen(raw_sig) : 0));
    size_t n = 0;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    n += jwt_b64url_encode((const uint8_t *)hdr, hl, t + n);
    t[n++] = '.';
    n += jwt_b64url_encode((const uint8_t *)payload, pl, t + n);
    t[n++] = '.';
    if (md) {
        HMAC(md, key, (int)strlen(key), (const uint8_t *)t, n - 1, mac, &mac_len);
        n += jwt_b64url_encode(mac, mac_len, t + n);
    } else {
        memcpy(t + n, raw_sig, strlen(raw_sig));
        n += strlen(raw_sig);
    }
    t[n] = '\0';
    return t;
}

static bool claims_zero(const struct jwt_claims *c)
{
    return !c->sub && !c->iss && !c->chan && c->n_chan == 0 && c->exp == 0 && c->iat == 0;
}

/* ---- tests ---- */

static void test_round_trip(void)
{
    struct jwt_claims c;
    char *tok = jwt_sign_hs256(key_cur, strlen(key_cur),
                               "{\"iss\":\"host\",\"iat\":1700000000,\"exp\":1700043200,"
                               "\"sub\":\"5\",\"chan\":\"" CHAN_A "," CHAN_B "\"}");

    ok(tok != NULL, "jwt_sign_hs256 made a token");
    ok(verify(&ring1, tok, NOW, &c) == JWT_OK, "its own token verifies");
    ok(c.sub && strcmp(c.sub, "5") == 0, "sub");
    ok(c.iss && strcmp(c.iss, "host") == 0, "iss");
    ok(c.exp == 1700043200 && c.iat == 1700000000, "exp and iat");
    ok(c.n_chan == 2 && strcmp(c.chan[0], CHAN_A) == 0 && strcmp(c.chan[1], CHAN_B) == 0,
       "chan split on commas");
    jwt_claims_free(&c);
    ok(claims_zero(&c), "jwt_claims_free zeroes");
    jwt_claims_free(&c);
    jwt_claims_free(NULL);
    ok(verify(&ring2, tok, NOW, &c) == JWT_OK, "second key of a 2-key ring");
    jwt_claims_free(&c);
    free(tok);

    tok = jwt_sign_hs256(key_cur, strlen(key_cur), "{\"sub\":\"7\",\"exp\":1700043200}");
    ok(tok && strcmp(tok, ext_sign_expect) == 0, "signer output equals an independent HS256");
    free(tok);

    tok = jwt_sign_hs256(key_cur, strlen(key_cur), "{}");
    ok(verify(&ring1, tok, NOW, &c) == JWT_OK && claims_zero(&c), "empty claims: all absent");
    jwt_claims_free(&c);
    free(tok);

    ok(jwt_sign_hs256(key_cur, strlen(key_cur), "[1,2]") == NULL, "signer refuses an array");
    ok(jwt_sign_hs256(key_cur, strlen(key_cur), "{\"a\":") == NULL, "signer refuses bad JSON");
    ok(jwt_sign_hs256(key_cur, strlen(key_cur), NULL) == NULL, "signer refuses NULL");
}

static void test_external(void)
{
    struct jwt_claims c;

    ok(verify(&ring1, ext_hs256, NOW, &c) == JWT_OK, "independent HS256 token");
    ok(c.sub && strcmp(c.sub, "42") == 0 && c.iss && strcmp(c.iss, "b24-host-7f3a") == 0,
       "HS256 sub and iss");
    ok(c.n_chan == 2 && strcmp(c.chan[0], CHAN_A) == 0 && strcmp(c.chan[1], CHAN_B) == 0,
       "HS256 chan as a comma-separated string");
    jwt_claims_free(&c);

    ok(verify(&ring1, ext_hs512, NOW, &c) == JWT_OK, "independent HS512 token");
    ok(c.sub && strcmp(c.sub, "42") == 0, "numeric sub stored as a string");
    ok(c.n_chan == 2 && strcmp(c.chan[0], CHAN_A) == 0 && strcmp(c.chan[1], CHAN_B) == 0,
       "chan as an array");
    ok(c.exp == 1700043200 && c.iat == 1700000000, "HS512 exp and iat");
    jwt_claims_free(&c);

    ok(verify(&ring2, ext_hs256, NOW, &c) == JWT_OK, "2-key ring, current key second");
    jwt_claims_free(&c);
    {
        struct sign_keyring old_only = {SIGN_SHA1, 1, {key_old}, {sizeof(key_old) - 1}};

        ok(verify(&old_only, ext_hs256, NOW, &c) == JWT_BAD_SIGNATURE && claims_zero(&c),
           "other key: bad signature, claims zeroed");
    }
    ok(verify(&ring_none, ext_hs256, NOW, &c) == JWT_BAD_SIGNATURE, "no keys: bad signature");
}

static void test_algorithms(void)
{
    static const char pl[] = "{\"sub\":\"1\",\"exp\":1700043200}";
    static const struct {
        const char *hdr;
        const EVP_MD *(*md)(void);
        const char *raw_sig;
        int want;
        const char *name;
    } cases[] = {
        {"{\"alg\":\"none\",\"typ\":\"JWT\"}", NULL, "", JWT_BAD_ALG, "alg none, empty signature"},
        {"{\"alg\":\"none\"}", EVP_sha256, NULL, JWT_BAD_ALG, "alg none with an HMAC"},
        {"{\"alg\":\"None\"}", NULL, "", JWT_BAD_ALG, "alg None"},
        {"{\"alg\":\"hs256\"}", EVP_sha256, NULL, JWT_BAD_ALG, "alg is case-sensitive"},
        {"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", EVP_sha256, NULL, JWT_BAD_ALG,
         "RS256 with an HMAC by the key (algorithm confusion)"},
        {"{\"alg\":\"ES256\"}", EVP_sha256, NULL, JWT_BAD_ALG, "ES256"},
        {"{\"alg\":\"HS384\"}", EVP_sha384, NULL, JWT_BAD_ALG, "HS384 is not accepted"},
        {"{\"typ\":\"JWT\"}", EVP_sha256, NULL, JWT_BAD_ALG, "no alg"},
        {"{\"alg\":256}", EVP_sha256, NULL, JWT_BAD_ALG, "alg not a string"},
        {"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", EVP_sha256, NULL, JWT_BAD_ALG, "crit"},
        {"{\"alg\":\"HS256\",\"typ\":\"JWS\"}", EVP_sha256, NULL, JWT_MALFORMED, "typ not JWT"},
        {"{\"alg\":\"HS256\",\"alg\":\"none\"}", EVP_sha256, NULL, JWT_MALFORMED, "duplicate alg"},
        {"[\"HS256\"]", EVP_sha256, NULL, JWT_MALFORMED, "header not an object"},
        {"{\"alg\":\"HS256\"", EVP_sha256, NULL, JWT_MALFORMED, "header not JSON"},
        {"{\"alg\":\"HS256\"}", EVP_sha256, NULL, JWT_OK, "HS256 without typ"},
        {"{\"alg\":\"HS256\",\"typ\":\"jwt\"}", EVP_sha256, NULL, JWT_OK, "typ jwt (any case)"},
        {"{\"alg\":\"HS512\"}", EVP_sha512, NULL, JWT_OK, "HS512"},
        {"{\"alg\":\"HS512\"}", EVP_sha256, NULL, JWT_BAD_SIGNATURE, "HS512 header, HS256 MAC"},
        {"{\"alg\":\"HS256\"}", EVP_sha512, NULL, JWT_BAD_SIGNATURE, "HS256 header, HS512 MAC"},
    };
    struct jwt_claims c;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *t = make_token(cases[i].hdr, pl, cases[i].md ? cases[i].md() : NULL, key_cur,
                             cases[i].raw_sig);
        int rc = verify(&ring1, t, NOW, &c);

        ok(rc == cases[i].want, cases[i].name);
        if (rc != JWT_OK)
            ok(claims_zero(&c), "claims zeroed on error");
        jwt_claims_free(&c);
        free(t);
    }
}

static void test_tamper(void)
{
    struct jwt_claims c;
    char *good = xstrdup(ext_hs256);
    char *other = jwt_sign_hs256(key_cur, strlen(key_cur), "{\"sub\":\"1\",\"exp\":1700043200}");
    char *t, *sig = strrchr(good, '.') + 1;
    const char *pl_other = strchr(other, '.') + 1;
    size_t pl_other_len = (size_t)(strrchr(other, '.') - pl_other);

    /* Payload of one token with the signature of another. */
    t = xmalloc(strlen(good) + strlen(other));
    sprintf(t, "%.*s%.*s.%s", (int)(strchr(good, '.') + 1 - good), good, (int)pl_other_len,
            pl_other, sig);
    ok(verify(&ring1, t, NOW, &c) == JWT_BAD_SIGNATURE, "swapped payload");
    free(t);

    /* One payload byte changed, still valid base64url. */
    t = xstrdup(good);
    {
        char *p = strchr(t, '.') + 5;

        *p = *p == 'A' ? 'B' : 'A';
    }
    ok(verify(&ring1, t, NOW, &c) == JWT_BAD_SIGNATURE, "one payload char changed");
    free(t);

    /* One header char changed: 'J' -> 'K' in "eyJ" changes the JSON. */
    t = xstrdup(good);
    t[2] = 'K';
    ok(verify(&ring1, t, NOW, &c) != JWT_OK, "header changed");
    free(t);

    t = xstrdup(good);
    t[sig - good] = t[sig - good] == 'A' ? 'B' : 'A';
    ok(verify(&ring1, t, NOW, &c) == JWT_BAD_SIGNATURE, "first signature char changed");
    free(t);

    t = xstrdup(good);
    t[strlen(t) - 1] = '\0';
    ok(verify(&ring1, t, NOW, &c) != JWT_OK, "signature truncated by one char");
    free(t);

    t = xmalloc(sig - good + 1);
    memcpy(t, good, (size_t)(sig - good));
    t[sig - good] = '\0';
    ok(verify(&ring1, t, NOW, &c) == JWT_BAD_SIGNATURE, "signature removed");
    free(t);

    {
        char *e = jwt_sign_hs256("", 0, "{\"sub\":\"1\"}");

        ok(verify(&ring_empty_key, e, NOW, &c) == JWT_BAD_SIGNATURE,
           "a token signed with an empty key never verifies");
        free(e);
    }

    free(other);
    free(good);
}

static void test_times(void)
{
    static const struct {
        const char *claims;
        int want;
        const char *name;
    } cases[] = {
        {"{\"exp\":1700000100}", JWT_OK, "exp == now"},
        {"{\"exp\":1700000041}", JWT_OK, "exp 59 s ago (leeway)"},
        {"{\"exp\":1700000040}", JWT_EXPIRED, "exp 60 s ago"},
        {"{\"exp\":1699990000}", JWT_EXPIRED, "exp long ago"},
        {"{\"exp\":0}", JWT_EXPIRED, "exp 0"},
        {"{\"exp\":1700043200.5}", JWT_OK, "real exp"},
        {"{\"exp\":1e300}", JWT_MALFORMED, "exp beyond int64"},
        {"{\"exp\":\"1700043200\"}", JWT_MALFORMED, "exp as a string"},
        {"{\"exp\":null}", JWT_MALFORMED, "exp null"},
        {"{\"iat\":1700000160}", JWT_OK, "iat 60 s ahead (leeway)"},
        {"{\"iat\":1700000161}", JWT_NOT_YET, "iat 61 s ahead"},
        {"{\"nbf\":1700000161}", JWT_NOT_YET, "nbf 61 s ahead"},
        {"{\"nbf\":1700000100}", JWT_OK, "nbf == now"},
        {"{\"nbf\":true}", JWT_MALFORMED, "nbf not a number"},
        {"{\"exp\":1699990000,\"nbf\":1800000000}", JWT_EXPIRED, "expired wins over not yet"},
        {"{\"exp\":1,\"exp\":1800000000}", JWT_MALFORMED, "duplicate exp"},
    };
    struct jwt_claims c;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *t = jwt_sign_hs256(key_cur, strlen(key_cur), cases[i].claims);

        /* The signer refuses duplicate names too; sign that one by hand. */
        if (!t)
            t = make_token("{\"alg\":\"HS256\"}", cases[i].claims, EVP_sha256(), key_cur, NULL);
        ok(verify(&ring1, t, NOW, &c) == cases[i].want, cases[i].name);
        jwt_claims_free(&c);
        free(t);
    }
    {
        char *t = jwt_sign_hs256(key_cur, strlen(key_cur), "{\"exp\":1700000100}");

        ok(verify(&ring1, t, INT64_MIN, &c) == JWT_OK, "now = INT64_MIN does not overflow");
        jwt_claims_free(&c);
        ok(verify(&ring1, t, INT64_MAX, &c) == JWT_EXPIRED, "now = INT64_MAX does not overflow");
        free(t);
    }
}

static void test_base64(void)
{
    static const struct {
        const char *tok;
        const char *name;
    } bad[] = {
        {"", "empty"},
        {"abc", "no dots"},
        {"eyJhbGciOiJIUzI1NiJ9.e30", "one dot"},
        {"eyJhbGciOiJIUzI1NiJ9.e30.AAAA.AAAA", "three dots"},
        {"..", "empty parts"},
        {".e30.AAAA", "empty header"},
        {"eyJhbGciOiJIUzI1NiJ9=.e30.AAAA", "padding in header"},
        {"eyJhbGciOiJIUzI1NiJ9.e30=.AAAA", "padding in payload"},
        {"eyJhbGciOi+IUzI1NiJ9.e30.AAAA", "'+' (plain base64)"},
        {"eyJhbGciOi/IUzI1NiJ9.e30.AAAA", "'/' (plain base64)"},
        {"eyJhbGciOiJIUzI1NiJ9 .e30.AAAA", "blank"},
        {"eyJhbGciOiJIUzI1NiJ9a.e30.AAAA", "length 1 mod 4"},
        {"eyJhbGciOiJIUzI1NiJ9.e30.AAAA!", "junk in signature"},
        /* "e31" decodes to "{}" as "e30" does, with a non-zero unused bit. */
        {"eyJhbGciOiJIUzI1NiJ9.e31.AAAA", "non-canonical trailing bits"},
        {"eyJhbGciOiJIUzI1NiJ9.e30.AAB", "non-canonical trailing bits in signature"},
    };
    struct jwt_claims c;
    char *t;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int rc = verify(&ring1, bad[i].tok, NOW, &c);

        ok(rc == JWT_MALFORMED, bad[i].name);
    }
    ok(jwt_verify(&ring1, NULL, 0, NOW, &c) == JWT_MALFORMED, "NULL token");

    /* Non-canonical encoding of a valid signature must not verify. */
    t = jwt_sign_hs256(key_cur, strlen(key_cur), "{}");
    {
        /* 32-byte MAC -> 43 chars; the last one carries 2 unused bits. */
        char *last = t + strlen(t) - 1;
        int v = base64_digit_value(*last, true);

        *last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[v | 1];
        ok(verify(&ring1, t, NOW, &c) == JWT_MALFORMED, "re-encoded signature refused");
    }
    free(t);

    /* The decoder itself, on every length of a known string. */
    {
        static const char text[] = "any carnal pleasure.";
        char enc[64];
        uint8_t dec[64];
        bool all = true;

        for (size_t n = 0; n <= strlen(text); n++) {
            size_t m = jwt_b64url_encode((const uint8_t *)text, n, enc);
            ssize_t d = jwt_b64url_decode(enc, m, dec);

            if (m != (n * 4 + 2) / 3 || d != (ssize_t)n || memcmp(dec, text, n) != 0)
                all = false;
        }
        ok(all, "encode/decode round trip on lengths 0..20");
        ok(jwt_b64url_encode((const uint8_t *)"\xfb\xff", 2, enc) == 3 &&
               memcmp(enc, "-_8", 3) == 0,
           "url alphabet");
    }
}

static void test_size(void)
{
    struct jwt_claims c;
    char *claims = xmalloc(JWT_MAX_LEN + 64), *t;
    size_t base, n;

    /* Find the filler length that makes the token exactly JWT_MAX_LEN. */
    for (n = JWT_MAX_LEN * 3 / 4 - 200;; n++) {
        sprintf(claims, "{\"sub\":\"1\",\"pad\":\"%*s\"}", (int)n, "");
        t = jwt_sign_hs256(key_cur, strlen(key_cur), claims);
        base = strlen(t);
        if (base >= JWT_MAX_LEN)
            break;
        free(t);
    }
    if (base == JWT_MAX_LEN) {
        ok(verify(&ring1, t, NOW, &c) == JWT_OK, "token of exactly JWT_MAX_LEN");
        jwt_claims_free(&c);
        free(t);
        sprintf(claims, "{\"sub\":\"1\",\"pad\":\"%*s\"}", (int)n + 1, "");
        t = jwt_sign_hs256(key_cur, strlen(key_cur), claims);
    } else {
        note("no filler gives exactly %d chars; testing %zu", JWT_MAX_LEN, base);
    }
    ok(strlen(t) > JWT_MAX_LEN && verify(&ring1, t, NOW, &c) == JWT_MALFORMED,
       "token over JWT_MAX_LEN refused");
    free(t);
    free(claims);
}

static void test_claim_shapes(void)
{
    static const struct {
        const char *claims;
        int want;
        size_t n_chan;
        const char *sub;
        const char *name;
    } cases[] = {
        {"{\"chan\":\"" CHAN_A "\"}", JWT_OK, 1, NULL, "one channel, no sub"},
        {"{\"chan\":\" " CHAN_A " ,, " CHAN_B ",\"}", JWT_OK, 2, NULL,
         "blanks and empty entries skipped"},
        {"{\"chan\":\"\"}", JWT_OK, 0, NULL, "empty chan string"},
        {"{\"chan\":[]}", JWT_OK, 0, NULL, "empty chan array"},
        {"{\"chan\":[\"" CHAN_A "\",\"\"]}", JWT_OK, 1, NULL, "empty array entry skipped"},
        {"{\"chan\":null,\"sub\":null}", JWT_OK, 0, NULL, "null chan and sub"},
        {"{\"chan\":[\"" CHAN_A "\",5]}", JWT_MALFORMED, 0, NULL, "array with a number"},
        {"{\"chan\":5}", JWT_MALFORMED, 0, NULL, "chan a number"},
        {"{\"sub\":-17}", JWT_OK, 0, "-17", "negative numeric sub"},
        {"{\"sub\":9007199254740993}", JWT_OK, 0, "9007199254740993", "large numeric sub"},
        {"{\"sub\":\"\"}", JWT_OK, 0, "", "empty string sub"},
        {"{\"sub\":1.5}", JWT_MALFORMED, 0, NULL, "real sub"},
        {"{\"sub\":{}}", JWT_MALFORMED, 0, NULL, "object sub"},
        {"{\"iss\":7}", JWT_MALFORMED, 0, NULL, "numeric iss"},
        {"{\"sub\":\"a\\u0000b\"}", JWT_MALFORMED, 0, NULL, "NUL inside a string"},
        {"{\"other\":{\"deep\":[1,2,3]},\"sub\":\"3\"}", JWT_OK, 0, "3", "unknown claims ignored"},
    };
    struct jwt_claims c;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *t = make_token("{\"alg\":\"HS256\"}", cases[i].claims, EVP_sha256(), key_cur, NULL);
        int rc = verify(&ring1, t, NOW, &c);
        bool good = rc == cases[i].want;

        if (good && rc == JWT_OK) {
            good = c.n_chan == cases[i].n_chan &&
                   (cases[i].sub ? c.sub && strcmp(c.sub, cases[i].sub) == 0 : c.sub == NULL);
            for (size_t k = 0; good && k < c.n_chan; k++)
                good = strlen(c.chan[k]) == 32;
        }
        ok(good, cases[i].name);
        jwt_claims_free(&c);
        free(t);
    }

    /* Payload that is valid JSON but not an object, correctly signed. */
    {
        char *t = make_token("{\"alg\":\"HS256\"}", "[]", EVP_sha256(), key_cur, NULL);

        ok(verify(&ring1, t, NOW, &c) == JWT_MALFORMED, "payload not an object");
        free(t);
        t = make_token("{\"alg\":\"HS256\"}", "", EVP_sha256(), key_cur, NULL);
        ok(verify(&ring1, t, NOW, &c) == JWT_MALFORMED, "empty payload");
        free(t);
    }
}

int main(void)
{
    subtest("round trip with jwt_sign_hs256", test_round_trip);
    subtest("independently made tokens", test_external);
    subtest("algorithms and header", test_algorithms);
    subtest("tampering", test_tamper);
    subtest("exp, iat, nbf", test_times);
    subtest("base64url and structure", test_base64);
    subtest("size cap", test_size);
    subtest("claim shapes", test_claim_shapes);
    return done_testing();
}
