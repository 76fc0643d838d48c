/* Unit tests for server/src/sign.c: HMAC vectors, the subscribe element
 * grammar, key rotation, lists and public references. Parser inputs are
 * copied to end at a PROT_NONE page so that any read past len faults. */
#include "../../../server/src/first.h"

#include "../../../server/src/util.c"
#include "../../../server/src/sign.c"

#include "guard.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>


/* ---- fixtures ----
 * Bitrix-shaped values: 32-hex ids as PHP makes them and a site key. The
 * expected signatures were computed outside this code base with
 *   printf %s '<value>' | openssl dgst -sha1 -hmac '<key>'   (and -sha256)
 * (OpenSSL 3.0.19) and pasted here. */

static char key_cur[] = "Pu11b0xSecretKey.2024";
static char key_old[] = "old-rotated-key";
static char key_empty[] = "";

#define PRIV "8f14e45fceea167a5a36dedd4bea2543"
#define PUB "c9f0f895fb98ab9159f51fd0297e236d"
#define PRIV_UC "8F14E45FCEEA167A5A36DEDD4BEA2543"
#define PUB_UC "C9F0F895FB98AB9159F51FD0297E236D"

/* hmac(PRIV) */
#define SIG_PRIV_SHA1 "c6801c81fc89b0afbf5e3b819606a3135f5a28e2"
#define SIG_PRIV_SHA256 "982ede18a1fae1d6256f95746b154d4302b3f7904d9d0238ca279f908dc08a3a"
#define SIG_PRIV_OLD "a7901a44b4194276c72d35416e19de94681e5835"
/* hmac(PRIV ":" PUB) */
#define SIG_PAIR_SHA1 "e7e9a54428750da585d0736735da3305b3da162d"
#define SIG_PAIR_SHA256 "af45546861d9ae761382ccd10c0d2ee6023286761dbdc521b341d0a73ffe9529"
#define SIG_PAIR_OLD "77fe4f2c3637622dec33e4ad753e6946a8aa21f4"
/* hmac("public:" PUB) */
#define SIG_PUBLIC_SHA1 "3be7cfeea7e5ab352a4c720f210f381aea0a8e0e"
#define SIG_PUBLIC_SHA256 "fc53e92aa1cc294d5c4ec452083540e28737bb930d99b5d6c15bcfc7fb7f3865"
#define SIG_PUBLIC_OLD "c910cd201bce43f120670c3e97c38b8a32a67871"

static struct sign_keyring ring1 = {SIGN_SHA1, 1, {key_cur}, {sizeof(key_cur) - 1}};
static struct sign_keyring ring2 = {
    SIGN_SHA1, 2, {key_cur, key_old}, {sizeof(key_cur) - 1, sizeof(key_old) - 1}};
static struct sign_keyring ring_old_only = {SIGN_SHA1, 1, {key_old}, {sizeof(key_old) - 1}};
static struct sign_keyring ring256 = {SIGN_SHA256, 1, {key_cur}, {sizeof(key_cur) - 1}};
static struct sign_keyring ring_none = {SIGN_SHA1, 0, {NULL}, {0}};
static struct sign_keyring ring_empty_key = {SIGN_SHA1, 1, {key_empty}, {0}};

static int parse(const struct sign_keyring *kr, const char *s, bool req, struct channel_ref *r)
{
    size_t len = strlen(s);

    return sign_parse_channel(kr, guard_copy(s, len), len, req, r);
}

static int parse_list(const struct sign_keyring *kr, const char *s, bool req,
                      struct channel_ref *out, size_t max, size_t *n)
{
    size_t len = strlen(s);

    return sign_parse_channel_list(kr, guard_copy(s, len), len, req, out, max, n);
}

static int parse_public(const struct sign_keyring *kr, const char *s, char pub[33])
{
    size_t len = strlen(s);

    return sign_parse_public_ref(kr, guard_copy(s, len), len, pub);
}

/* ---- HMAC vectors ---- */

struct hmac_vector {
    const char *name;
    uint8_t key[131];
    size_t key_len;
    uint8_t key_fill; /* when non-zero, key is key_len bytes of this value */
    const char *data;
    size_t data_len;
    uint8_t data_fill;
    const char *hex;
};

static void check_vectors(enum sign_algo algo, const struct hmac_vector *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t key[131], data[256], raw[64];
        char hex[129];
        size_t raw_len;

        if (v[i].key_fill)
            memset(key, v[i].key_fill, v[i].key_len);
        else
            memcpy(key, v[i].key, v[i].key_len);
        if (v[i].data_fill)
            memset(data, v[i].data_fill, v[i].data_len);
        else
            memcpy(data, v[i].data, v[i].data_len);

        sign_hmac_hex(algo, (const char *)key, v[i].key_len, data, v[i].data_len, hex);
        ok(strcmp(hex, v[i].hex) == 0, v[i].name);
        raw_len = sign_hmac_raw(algo, (const char *)key, v[i].key_len, data, v[i].data_len, raw);
        ok(raw_len == strlen(v[i].hex) / 2, "raw length matches the digest");
    }
}

static void test_rfc2202(void)
{
    /* clang-format off */
    static const struct hmac_vector v[] = {
        {"RFC 2202 case 1", {0}, 20, 0x0b, "Hi There", 8, 0,
         "b617318655057264e28bc0b6fb378c8ef146be00"},
        {"RFC 2202 case 2", "Jefe", 4, 0, "what do ya want for nothing?", 28, 0,
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {"RFC 2202 case 3", {0}, 20, 0xaa, NULL, 50, 0xdd,
         "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
        {"RFC 2202 case 4",
         {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25},
         25, 0, NULL, 50, 0xcd, "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
        {"RFC 2202 case 6", {0}, 80, 0xaa, "Test Using Larger Than Block-Size Key - Hash Key First",
         54, 0, "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
        {"RFC 2202 case 7", {0}, 80, 0xaa,
         "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data", 73, 0,
         "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
    };
    /* clang-format on */

    check_vectors(SIGN_SHA1, v, ARRAY_LEN(v));
}

static void test_rfc4231(void)
{
    /* clang-format off */
    static const struct hmac_vector v[] = {
        {"RFC 4231 case 1", {0}, 20, 0x0b, "Hi There", 8, 0,
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"RFC 4231 case 2", "Jefe", 4, 0, "what do ya want for nothing?", 28, 0,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"RFC 4231 case 3", {0}, 20, 0xaa, NULL, 50, 0xdd,
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {"RFC 4231 case 4",
         {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25},
         25, 0, NULL, 50, 0xcd, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {"RFC 4231 case 6", {0}, 131, 0xaa,
         "Test Using Larger Than Block-Size Key - Hash Key First", 54, 0,
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {"RFC 4231 case 7", {0}, 131, 0xaa,
         "This is a test using a larger than block-size key and a larger than block-size data. "
         "The key needs to be hashed before being used by the HMAC algorithm.",
         152, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    /* clang-format on */

    check_vectors(SIGN_SHA256, v, ARRAY_LEN(v));
}

static void test_bitrix_vectors(void)
{
    char hex[129];

    sign_hmac_hex(SIGN_SHA1, key_cur, strlen(key_cur), PRIV, 32, hex);
    ok(strcmp(hex, SIG_PRIV_SHA1) == 0, "sha1 over a channel id matches openssl dgst");
    sign_hmac_hex(SIGN_SHA256, key_cur, strlen(key_cur), PRIV, 32, hex);
    ok(strcmp(hex, SIG_PRIV_SHA256) == 0, "sha256 over a channel id matches openssl dgst");
    sign_hmac_hex(SIGN_SHA1, key_cur, strlen(key_cur), PRIV ":" PUB, 65, hex);
    ok(strcmp(hex, SIG_PAIR_SHA1) == 0, "sha1 over priv:pub matches openssl dgst");
    sign_hmac_hex(SIGN_SHA1, key_cur, strlen(key_cur), "public:" PUB, 39, hex);
    ok(strcmp(hex, SIG_PUBLIC_SHA1) == 0, "sha1 over public:pub matches openssl dgst");
    sign_hmac_hex(SIGN_SHA1, key_old, strlen(key_old), PRIV, 32, hex);
    ok(strcmp(hex, SIG_PRIV_OLD) == 0, "old key over a channel id matches openssl dgst");
    sign_hmac_hex(SIGN_SHA1, NULL, 0, "", 0, hex);
    ok(strcmp(hex, "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d") == 0,
       "empty key and empty data are accepted by sign_hmac_hex");
}

/* ---- sign_check_hex / sign_check_raw ---- */

static void test_check(void)
{
    uint8_t raw[32];

    ok(sign_check_hex(&ring1, PRIV, 32, SIG_PRIV_SHA1, 40), "lower-case hex signature");
    ok(sign_check_hex(&ring1, PRIV, 32, "C6801C81FC89B0AFBF5E3B819606A3135F5A28E2", 40),
       "upper-case hex signature");
    ok(!sign_check_hex(&ring1, PRIV, 32, SIG_PRIV_SHA1, 39), "truncated signature rejected");
    ok(!sign_check_hex(&ring1, PRIV, 32, "g6801c81fc89b0afbf5e3b819606a3135f5a28e2", 40),
       "non-hex signature rejected");
    ok(!sign_check_hex(&ring1, PRIV, 31, SIG_PRIV_SHA1, 40), "other value rejected");
    ok(!sign_check_hex(&ring1, PRIV, 32, SIG_PRIV_SHA256, 64), "sha256 length on a sha1 ring");
    ok(sign_check_hex(&ring256, PRIV, 32, SIG_PRIV_SHA256, 64), "sha256 ring");
    ok(!sign_check_hex(&ring256, PRIV, 32, SIG_PRIV_SHA1, 40), "sha1 length on a sha256 ring");
    ok(!sign_check_hex(&ring_none, PRIV, 32, SIG_PRIV_SHA1, 40), "a ring without keys rejects");

    /* An empty key is public knowledge: its HMAC must not verify. */
    {
        char hex[129];

        sign_hmac_hex(SIGN_SHA1, "", 0, PRIV, 32, hex);
        ok(!sign_check_hex(&ring_empty_key, PRIV, 32, hex, 40), "an empty key never verifies");
    }

    hex_decode(SIG_PRIV_SHA1, 40, raw, 20);
    ok(sign_check_raw(&ring1, PRIV, 32, raw, 20), "raw signature");
    ok(!sign_check_raw(&ring1, PRIV, 32, raw, 19), "raw signature of the wrong length");
    raw[19] ^= 1;
    ok(!sign_check_raw(&ring1, PRIV, 32, raw, 20), "raw signature with one bit flipped");
}

/* ---- sign_parse_channel ---- */

static void test_parse_forms(void)
{
    struct channel_ref r;

    ok(parse(&ring1, PRIV "." SIG_PRIV_SHA1, true, &r) == SIGN_OK, "id.sig");
    ok(strcmp(r.priv, PRIV) == 0 && !r.has_pub && r.signed_ok, "id.sig fields");

    ok(parse(&ring1, PRIV ":" PUB "." SIG_PAIR_SHA1, true, &r) == SIGN_OK, "priv:pub.sig");
    ok(strcmp(r.priv, PRIV) == 0 && r.has_pub && strcmp(r.pub, PUB) == 0 && r.signed_ok,
       "priv:pub.sig fields");

    ok(parse(&ring1, PRIV_UC ":" PUB_UC ".E7E9A54428750DA585D0736735DA3305B3DA162D", true, &r) ==
           SIGN_OK,
       "upper-case ids and signature");
    ok(strcmp(r.priv, PRIV) == 0 && strcmp(r.pub, PUB) == 0, "ids stored in lower case");

    ok(parse(&ring256, PRIV "." SIG_PRIV_SHA256, true, &r) == SIGN_OK, "sha256 id.sig");
    ok(parse(&ring256, PRIV ":" PUB "." SIG_PAIR_SHA256, true, &r) == SIGN_OK,
       "sha256 priv:pub.sig");

    memset(&r, 0x55, sizeof(r));
    ok(parse(&ring1, PRIV, false, &r) == SIGN_OK, "bare id on a trusted path");
    ok(strcmp(r.priv, PRIV) == 0 && !r.signed_ok && !r.has_pub, "bare id is not signed_ok");
    ok(parse(&ring1, PRIV, true, &r) == SIGN_BAD_SIGNATURE, "bare id when a signature is needed");
    ok(parse(&ring1, PRIV ":" PUB, true, &r) == SIGN_BAD_SIGNATURE,
       "bare priv:pub when a signature is needed");
    ok(parse(&ring1, PRIV "." SIG_PRIV_SHA1, false, &r) == SIGN_OK && r.signed_ok,
       "id.sig on a trusted path (site checker) is accepted and signed_ok");
}

static void test_parse_bad_format(void)
{
    /* clang-format off */
    static const char *const bad[] = {
        "",
        "8f14e45fceea167a5a36dedd4bea254",                                     /* 31 hex */
        "8f14e45fceea167a5a36dedd4bea25431",                                   /* 33 hex */
        "8f14e45fceea167a5a36dedd4bea254g",                                    /* non-hex */
        "8f14e45fceea167a5a36dedd4bea254 ",                                    /* blank */
        "8f14e45fceea167a5a36dedd4bea254" "3." "c6801c81fc89b0afbf5e3b819606a3135f5a28e", /* 39 */
        PRIV "." SIG_PRIV_SHA1 "0",                                            /* 41: odd */
        PRIV "." SIG_PRIV_SHA256 SIG_PRIV_SHA256 "00",                         /* 130 */
        PRIV ".c6801c81fc89b0afbf5e3b819606a3135f5a28ez",                     /* non-hex sig */
        PRIV ".",                                                              /* empty sig */
        PRIV "." SIG_PRIV_SHA1 " ",                                            /* trailing junk */
        PRIV "." SIG_PRIV_SHA1 "." SIG_PRIV_SHA1,                              /* two sigs */
        PRIV "x",                                                              /* junk after id */
        PRIV ":",                                                              /* ':' only */
        PRIV ":." SIG_PRIV_SHA1,                                               /* ':' without pub */
        PRIV ":" "c9f0f895fb98ab9159f51fd0297e236",                            /* 31-hex pub */
        PRIV ":" PUB ":" PUB,                                                  /* two pubs */
        "." SIG_PRIV_SHA1,                                                     /* no id */
        ":" PUB "." SIG_PAIR_SHA1,                                             /* no priv */
        PRIV "\0" SIG_PRIV_SHA1,                                               /* NUL: stops at strlen */
    };
    /* clang-format on */
    struct channel_ref r;
    char name[64];

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int a = parse(&ring1, bad[i], true, &r), b = parse(&ring1, bad[i], false, &r);

        snprintf(name, sizeof(name), "bad format #%zu (len %zu)", i, strlen(bad[i]));
        /* The last entry is a valid bare id once cut at the NUL. */
        if (i == ARRAY_LEN(bad) - 1)
            ok(a == SIGN_BAD_SIGNATURE && b == SIGN_OK, name);
        else
            ok(a == SIGN_BAD_FORMAT && b == SIGN_BAD_FORMAT, name);
    }

    /* An embedded NUL inside the counted length is junk, not a terminator. */
    {
        static const char s[] = PRIV "\0" SIG_PRIV_SHA1;

        ok(sign_parse_channel(&ring1, guard_copy(s, sizeof(s) - 1), sizeof(s) - 1, false, &r) ==
               SIGN_BAD_FORMAT,
           "embedded NUL is a bad format");
    }
}

static void test_parse_bad_signature(void)
{
    struct channel_ref r;

    ok(parse(&ring1, PRIV ".c6801c81fc89b0afbf5e3b819606a3135f5a28e3", true, &r) ==
           SIGN_BAD_SIGNATURE,
       "one wrong hex digit");
    ok(parse(&ring1, PRIV ".c6801c81fc89b0afbf5e3b819606a3135f5a28e3", false, &r) == SIGN_OK &&
           !r.signed_ok,
       "wrong signature ignored on a trusted path, not signed_ok");
    ok(parse(&ring1, PRIV ":" PUB "." SIG_PRIV_SHA1, true, &r) == SIGN_BAD_SIGNATURE,
       "priv:pub with the signature of priv alone");
    ok(parse(&ring1, PUB ":" PRIV "." SIG_PAIR_SHA1, true, &r) == SIGN_BAD_SIGNATURE,
       "swapped priv and pub");
    ok(parse(&ring1, PRIV "." SIG_PRIV_SHA256, true, &r) == SIGN_BAD_SIGNATURE,
       "sig of the wrong length for the ring (64 on sha1)");
    ok(parse(&ring256, PRIV "." SIG_PRIV_SHA1, true, &r) == SIGN_BAD_SIGNATURE,
       "sig of the wrong length for the ring (40 on sha256)");
    ok(parse(&ring1, PUB "." SIG_PUBLIC_SHA1, true, &r) == SIGN_BAD_SIGNATURE,
       "a public-ref signature does not sign a subscribe element");
    ok(parse(&ring_none, PRIV "." SIG_PRIV_SHA1, true, &r) == SIGN_BAD_SIGNATURE,
       "no keys: nothing verifies");
}

static void test_rotation(void)
{
    struct channel_ref r;

    ok(parse(&ring2, PRIV "." SIG_PRIV_SHA1, true, &r) == SIGN_OK, "2-key ring: current key");
    ok(parse(&ring2, PRIV "." SIG_PRIV_OLD, true, &r) == SIGN_OK && r.signed_ok,
       "2-key ring: previous key");
    ok(parse(&ring2, PRIV ":" PUB "." SIG_PAIR_OLD, true, &r) == SIGN_OK,
       "2-key ring: previous key over priv:pub");
    ok(parse(&ring1, PRIV "." SIG_PRIV_OLD, true, &r) == SIGN_BAD_SIGNATURE,
       "1-key ring rejects the previous key");
    ok(parse(&ring_old_only, PRIV "." SIG_PRIV_SHA1, true, &r) == SIGN_BAD_SIGNATURE,
       "the old key alone rejects the new signature");
}

/* Every proper prefix of a valid element is refused when a signature is
 * required, and no prefix reads past its end (the guard page faults). */
static void test_prefixes(void)
{
    static const char full[] = PRIV ":" PUB "." SIG_PAIR_SHA1;
    struct channel_ref r;
    bool all_refused = true;

    for (size_t n = 0; n < sizeof(full) - 1; n++)
        if (sign_parse_channel(&ring1, guard_copy(full, n), n, true, &r) == SIGN_OK)
            all_refused = false;
    ok(all_refused, "no proper prefix of priv:pub.sig parses");
    ok(sign_parse_channel(&ring1, guard_copy(full, sizeof(full) - 1), sizeof(full) - 1, true, &r) ==
           SIGN_OK,
       "the whole element parses at the guard page");
}

/* ---- lists ---- */

static void test_lists(void)
{
    struct channel_ref out[4];
    size_t n = 99;

    ok(parse_list(&ring1, PRIV ":" PUB "." SIG_PAIR_SHA1 "/" PUB "." SIG_PUBLIC_SHA1, false, out, 4,
                  &n) == SIGN_OK &&
           n == 2,
       "two elements (trusted path)");
    ok(out[0].has_pub && strcmp(out[1].priv, PUB) == 0 && !out[1].signed_ok, "elements in order");

    ok(parse_list(&ring1, "/" PRIV "." SIG_PRIV_SHA1 "//" PRIV ":" PUB "." SIG_PAIR_SHA1 "/", true,
                  out, 4, &n) == SIGN_OK &&
           n == 2,
       "empty elements skipped");
    ok(strcmp(out[0].priv, PRIV) == 0 && !out[0].has_pub && out[1].has_pub, "skipped list fields");

    n = 99;
    ok(parse_list(&ring1, "", true, out, 4, &n) == SIGN_OK && n == 0, "empty list");
    n = 99;
    ok(parse_list(&ring1, "///", true, out, 4, &n) == SIGN_OK && n == 0, "only slashes");

    ok(parse_list(&ring1, PRIV "/" PRIV "/" PRIV, false, out, 3, &n) == SIGN_OK && n == 3,
       "exactly max elements");
    n = 99;
    ok(parse_list(&ring1, PRIV "/" PRIV "/" PRIV, false, out, 2, &n) == SIGN_TOO_MANY && n == 0,
       "one over max");
    ok(parse_list(&ring1, PRIV "//" PRIV "//", false, out, 2, &n) == SIGN_OK && n == 2,
       "empty elements do not count toward max");
    ok(parse_list(&ring1, "/", false, out, 0, &n) == SIGN_OK && n == 0, "max 0 and no elements");

    n = 99;
    ok(parse_list(&ring1,
                  PRIV "." SIG_PRIV_SHA1 "/" PRIV ".c6801c81fc89b0afbf5e3b819606a3135f5a28e3", true,
                  out, 4, &n) == SIGN_BAD_SIGNATURE &&
           n == 0,
       "one bad signature rejects the list");
    ok(parse_list(&ring1, PRIV "/xyz/" PRIV, true, out, 4, &n) == SIGN_BAD_SIGNATURE,
       "first error in order is returned (bad signature before bad format)");
    ok(parse_list(&ring1, "xyz/" PRIV, true, out, 4, &n) == SIGN_BAD_FORMAT,
       "first error in order is returned (bad format)");
    ok(parse_list(&ring1, PRIV "/" PRIV "/xyz", false, out, 1, &n) == SIGN_TOO_MANY,
       "over the limit before the bad element");
}

/* ---- public references ---- */

static void test_public(void)
{
    char pub[33] = "untouched";
    uint8_t id[16], sig[20];

    ok(parse_public(&ring1, PUB "." SIG_PUBLIC_SHA1, pub) == SIGN_OK && strcmp(pub, PUB) == 0,
       "pub.sig");
    ok(parse_public(&ring1, PUB_UC ".3BE7CFEEA7E5AB352A4C720F210F381AEA0A8E0E", pub) == SIGN_OK &&
           strcmp(pub, PUB) == 0,
       "upper case, stored lower case");
    ok(parse_public(&ring256, PUB "." SIG_PUBLIC_SHA256, pub) == SIGN_OK, "sha256 public ref");
    ok(parse_public(&ring2, PUB "." SIG_PUBLIC_OLD, pub) == SIGN_OK,
       "previous key in a 2-key ring");
    ok(parse_public(&ring1, PUB "." SIG_PUBLIC_OLD, pub) == SIGN_BAD_SIGNATURE,
       "previous key in a 1-key ring");

    strcpy(pub, "untouched");
    ok(parse_public(&ring1, PUB, pub) == SIGN_BAD_SIGNATURE, "missing signature");
    ok(parse_public(&ring1, PRIV "." SIG_PRIV_SHA1, pub) == SIGN_BAD_SIGNATURE,
       "a subscribe signature is not a public-ref signature");
    ok(parse_public(&ring1, PRIV ":" PUB "." SIG_PAIR_SHA1, pub) == SIGN_BAD_FORMAT,
       "priv:pub is not a public ref");
    ok(parse_public(&ring1, "c9f0f895fb98ab9159f51fd0297e236." SIG_PUBLIC_SHA1, pub) ==
           SIGN_BAD_FORMAT,
       "31-hex id");
    ok(parse_public(&ring1, PUB "." SIG_PUBLIC_SHA1 "x", pub) == SIGN_BAD_FORMAT, "trailing junk");
    ok(strcmp(pub, "untouched") == 0, "pub_out untouched on errors");

    hex_decode(PUB, 32, id, 16);
    hex_decode(SIG_PUBLIC_SHA1, 40, sig, 20);
    ok(sign_check_public_raw(&ring1, id, sig, 20), "raw public signature");
    ok(!sign_check_public_raw(&ring1, id, sig, 19), "raw public signature, wrong length");
    ok(!sign_check_public_raw(&ring_none, id, sig, 20), "raw public signature, no keys");
    id[0] ^= 0x80;
    ok(!sign_check_public_raw(&ring1, id, sig, 20), "raw public signature, other id");
    id[0] ^= 0x80;
    hex_decode(SIG_PUBLIC_OLD, 40, sig, 20);
    ok(sign_check_public_raw(&ring2, id, sig, 20), "raw public signature by the previous key");
    ok(!sign_check_public_raw(&ring1, id, sig, 20), "raw previous-key signature, 1-key ring");
}

int main(void)
{
    subtest("HMAC-SHA1 RFC 2202 vectors", test_rfc2202);
    subtest("HMAC-SHA256 RFC 4231 vectors", test_rfc4231);
    subtest("Bitrix-shaped values against openssl dgst", test_bitrix_vectors);
    subtest("sign_check_hex / sign_check_raw", test_check);
    subtest("signed forms", test_parse_forms);
    subtest("bad formats", test_parse_bad_format);
    subtest("bad signatures", test_parse_bad_signature);
    subtest("key rotation", test_rotation);
    subtest("prefixes at a guard page", test_prefixes);
    subtest("channel lists", test_lists);
    subtest("public references", test_public);
    return done_testing();
}
