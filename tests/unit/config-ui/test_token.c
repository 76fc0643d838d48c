/* Unit tests for config-ui/lib/token.c: random hex tokens, the
 * constant-time comparison, SHA-256. */
#include "token.h"

#include "tap.h"

#include <stdlib.h>

static bool all_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void test_hex(void)
{
    char a[2 * 200 + 1], b[2 * 200 + 1];

    memset(a, 'x', sizeof a);
    ok(token_hex(a, 16) == 0, "16 random bytes");
    ok(strlen(a) == 32 && all_hex(a), "32 lowercase hex digits");
    ok(token_hex(b, 16) == 0 && strcmp(a, b) != 0, "two tokens differ");
    /* more than one internal chunk */
    ok(token_hex(a, 200) == 0 && strlen(a) == 400 && all_hex(a), "200 bytes: 400 hex digits");
    ok(token_hex(a, 0) == 0 && a[0] == '\0', "0 bytes: empty string");

    /* every nibble value appears in 200 random bytes (chance of a miss is
     * 16 * (15/16)^400, about 1e-10) */
    int seen = 0;
    for (const char *p = a; token_hex(a, 200) == 0 && *p; p++)
        seen |= 1 << (*p <= '9' ? *p - '0' : *p - 'a' + 10);
    ok(seen == 0xffff, "all 16 hex digits appear");

    unsigned char raw[3] = {0x00, 0xab, 0xff};
    char hex[7];
    token_to_hex(raw, 3, hex);
    ok(strcmp(hex, "00abff") == 0, "token_to_hex");
}

static void test_equal(void)
{
    ok(token_equal("abc", "abc"), "equal strings");
    ok(token_equal("", ""), "two empty strings");
    ok(!token_equal("abc", "abd"), "last byte differs");
    ok(!token_equal("xbc", "abc"), "first byte differs");
    ok(!token_equal("ab", "abc"), "prefix of expected");
    ok(!token_equal("abcd", "abc"), "expected is a prefix");
    ok(!token_equal("", "abc"), "empty against non-empty");
    ok(!token_equal("abc", ""), "non-empty against empty");
    /* a shorter a whose bytes beyond its end would match b if read past
     * the NUL: only the length tells them apart */
    char buf[8] = "aaa\0aaa";
    ok(!token_equal(buf, "aaaaaaa"), "no read past the end of a");
    ok(!token_equal("aaaaaaa", buf), "longer a against shorter b");
}

static void test_sha256(void)
{
    char out[65];

    /* printf %s abc | sha256sum */
    token_sha256_hex("abc", out);
    ok(strcmp(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
       "sha256(abc)");
    token_sha256_hex("", out);
    ok(strcmp(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
       "sha256 of the empty string");
}

int main(void)
{
    subtest("random hex", test_hex);
    subtest("constant-time equality", test_equal);
    subtest("sha256", test_sha256);
    return done_testing();
}
