/* Unit tests for config-ui/lib/bundle.c: the update bundle's header line,
 * its manifest (every field, every truncation) and the version order. */
#include "bundle.h"

#include "tap.h"

#include <stdlib.h>

#define H64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define GOOD                                                                                       \
    "product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1700000000\n"                      \
    "part=system.squashfs 1000 " H64 "\npart=vmlinuz 20 " H64 "\npart=initrd.img 3 " H64 "\n"

static char err[BUNDLE_ERR_LEN];

static int parse(const char *text, struct bundle_manifest *m)
{
    return bundle_manifest_parse(text, strlen(text), 100, m, err, sizeof(err));
}

static int refused_with(const char *text, const char *words)
{
    struct bundle_manifest m;
    err[0] = '\0';
    int r = parse(text, &m);
    if (r == 0 || !strstr(err, words))
        note("expected refusal naming \"%s\", got %d \"%s\"", words, r, err);
    return r == -1 && strstr(err, words) != NULL;
}

static void test_header(void)
{
    const char *h = "pullbox-bundle 1 431\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == 431, "header: manifest length");
    h = "pullbox-bundle 1 4096\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == 4096, "header: the largest manifest");
    h = "pullbox-bundle 1 4097\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == -1 && strstr(err, "1..4096"),
       "header: a larger manifest is refused, naming the limit");
    h = "pullbox-bundle 1 0\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == -1, "header: empty manifest");
    h = "pullbox-bundle 1 0431\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == -1, "header: leading zero");
    h = "pullbox-bundle 2 431\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == -1 && strstr(err, "format 2"),
       "header: another format is named");
    h = "PK\3\4 something\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == -1 && strstr(err, "not a Pullbox"),
       "header: not a bundle");
    h = "pullbox-bundle 1 431";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == -1, "header: no newline");
    h = "pullbox-bundle 1 43 1\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == -1, "header: extra field");
    h = "pullbox-bundle 1 -1\n";
    ok(bundle_header_parse(h, strlen(h), err, sizeof(err)) == -1, "header: negative length");
}

static void test_manifest_good(void)
{
    struct bundle_manifest m;
    ok(parse(GOOD, &m) == 0, "a good manifest parses");
    ok(strcmp(m.product, "pullbox") == 0 && strcmp(m.version, "0.2.0") == 0 &&
           strcmp(m.min_from, "0.1.0") == 0 && m.build_date == 1700000000,
       "product, version, min-from, build-date");
    ok(m.nparts == 3 && strcmp(m.parts[0].name, "system.squashfs") == 0 &&
           strcmp(m.parts[1].name, "vmlinuz") == 0 && strcmp(m.parts[2].name, "initrd.img") == 0,
       "three parts in order");
    ok(m.parts[0].size == 1000 && m.parts[1].size == 20 && m.parts[2].size == 3 &&
           m.parts_size == 1023,
       "sizes and their sum");
    ok(m.parts[0].offset == 100 && m.parts[1].offset == 1100 && m.parts[2].offset == 1120,
       "offsets follow one another from the base");
    ok(m.parts[0].sha256[0] == 0x00 && m.parts[0].sha256[1] == 0x11 &&
           m.parts[2].sha256[31] == 0xff,
       "hashes decoded");
    ok(parse("product=other\nversion=1.0.0\nmin-from=1.0.0\nbuild-date=0\npart=a 1 " H64 "\n",
             &m) == 0 &&
           strcmp(m.product, "other") == 0,
       "another product parses (the verifier refuses it, naming it)");
}

static void test_manifest_bad(void)
{
    ok(refused_with("", "newline"), "empty");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1700000000\n",
                    "no part"),
       "no part");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\n", "build-date"),
       "ends before build-date");
    ok(refused_with("version=0.2.0\nproduct=pullbox\n", "line 1: expected product="),
       "keys out of order");
    ok(refused_with("product=pullbox\nversion=0.2\nmin-from=0.1.0\nbuild-date=1\npart=a 1 " H64
                    "\n",
                    "version"),
       "version with two numbers");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=x\nbuild-date=1\npart=a 1 " H64 "\n",
                    "min-from"),
       "bad min-from");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=-1\npart=a 1 " H64
                    "\n",
                    "build-date"),
       "negative build-date");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\nsize=3\n",
                    "line 5: expected part="),
       "unknown key");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\npart=a 0 " H64
                    "\n",
                    "line 5"),
       "a part of size 0");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\npart=a "
                    "4294967297 " H64 "\n",
                    "line 5"),
       "a part over 4 GiB");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\npart=../x 1 " H64
                    "\n",
                    "line 5"),
       "a name with a slash");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\npart=A 1 " H64
                    "\n",
                    "line 5"),
       "a name in upper case");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\npart=a 1 "
                    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n",
                    "line 5"),
       "upper-case hash");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\npart=a 1 " H64
                    "0\n",
                    "line 5"),
       "hash of 65 digits");
    ok(refused_with("product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\npart=a 1 " H64
                    "\npart=a 2 " H64 "\n",
                    "twice"),
       "a part listed twice");
    ok(refused_with("product=pullbox\r\nversion=0.2.0\n", "carriage return"), "CRLF");
    char nine[1024] = "product=pullbox\nversion=0.2.0\nmin-from=0.1.0\nbuild-date=1\n";
    for (int i = 0; i < 9; i++)
        snprintf(nine + strlen(nine), sizeof(nine) - strlen(nine), "part=p%d 1 %s\n", i, H64);
    ok(refused_with(nine, "more than 8 parts"), "nine parts");

    /* every proper prefix of a good manifest is refused (a truncated upload
     * never parses as a shorter valid one: the last line lacks its newline,
     * or a required line is missing) */
    struct bundle_manifest m;
    size_t n = strlen(GOOD);
    int parsed = 0;
    for (size_t cut = 0; cut < n; cut++) {
        char *copy = malloc(cut + 1);
        memcpy(copy, GOOD, cut); /* exact length: ASan sees any overread */
        if (bundle_manifest_parse(copy, cut, 0, &m, err, sizeof(err)) == 0 &&
            !(cut > 0 && GOOD[cut - 1] == '\n'))
            parsed++;
        free(copy);
    }
    ok(parsed == 0, "no prefix that cuts a line parses");
}

static void test_version(void)
{
    ok(bundle_version_valid("0.1.0") && bundle_version_valid("10.20.30") &&
           bundle_version_valid("1.0.0-rc.1") && bundle_version_valid("1.0.0-alpha-2.x"),
       "valid versions");
    ok(!bundle_version_valid("1.0") && !bundle_version_valid("1.0.0.0") &&
           !bundle_version_valid("01.0.0") && !bundle_version_valid("1.0.0-") &&
           !bundle_version_valid("1.0.0-rc..1") && !bundle_version_valid("1.0.0-01") &&
           !bundle_version_valid("1.0.0+build") && !bundle_version_valid("v1.0.0") &&
           !bundle_version_valid("") && !bundle_version_valid("1234567890.0.0"),
       "invalid versions");
    ok(!bundle_version_valid("1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "longer than 32 bytes");
    ok(bundle_version_cmp("0.1.0", "0.1.0") == 0, "equal");
    ok(bundle_version_cmp("0.2.0", "0.10.0") < 0, "numbers, not text: 0.2.0 < 0.10.0");
    ok(bundle_version_cmp("1.0.0", "0.99.99") > 0, "major first");
    ok(bundle_version_cmp("1.2.3", "1.2.10") < 0, "patch by value");
    ok(bundle_version_cmp("1.0.0-rc.1", "1.0.0") < 0, "a pre-release before its release");
    ok(bundle_version_cmp("1.0.0", "1.0.0-rc.1") > 0, "a release after its pre-release");
    ok(bundle_version_cmp("1.0.0-rc.2", "1.0.0-rc.10") < 0, "numeric identifiers by value");
    ok(bundle_version_cmp("1.0.0-alpha", "1.0.0-alpha.1") < 0, "fewer identifiers first");
    ok(bundle_version_cmp("1.0.0-1", "1.0.0-alpha") < 0, "numeric before alphanumeric");
    ok(bundle_version_cmp("1.0.0-alpha", "1.0.0-beta") < 0, "alphanumeric in ASCII");
    ok(bundle_version_cmp("1.0.0-beta.11", "1.0.0-rc.1") < 0, "beta.11 < rc.1");
    ok(bundle_version_cmp("0.9.9", "0.1.0-rc.1") > 0, "0.9.9 > 0.1.0-rc.1");
}

int main(void)
{
    subtest("header line", test_header);
    subtest("manifest: a good one", test_manifest_good);
    subtest("manifest: refusals", test_manifest_bad);
    subtest("version order", test_version);
    return done_testing();
}
