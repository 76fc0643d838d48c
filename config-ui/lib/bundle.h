/* Update bundles (pullbox-<version>.pbu): the framing and the manifest.
 *
 * A bundle is, in this order, with nothing before or after:
 *   "pullbox-bundle 1 <manifest-bytes>\n"   the header line (at most 64 bytes)
 *   the manifest                            <manifest-bytes> bytes of text
 *   the Ed25519 signature of the manifest   64 bytes
 *   the parts, back to back, in the manifest's order, each exactly its size
 * so a reader streams it once: it learns every size and hash before the
 * first byte of a part, and the signature covers the hashes. The manifest
 * is lines of key=value, each ended by "\n", in this order:
 *   product=pullbox
 *   version=0.2.0           what the bundle installs (MAJOR.MINOR.PATCH[-pre])
 *   min-from=0.1.0          the oldest running version it may replace
 *   build-date=1700000000   SOURCE_DATE_EPOCH of the build
 *   part=<name> <size> <sha256 hex>   1 to BUNDLE_MAX_PARTS lines
 * Nothing else is accepted: a new field is a new format number.
 *
 * These functions only parse; verifying the signature and the hashes is
 * the caller's (config-ui/tools/update-verify.c). */
#ifndef PULLBOX_CFG_BUNDLE_H
#define PULLBOX_CFG_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#define BUNDLE_MAGIC "pullbox-bundle"
#define BUNDLE_FORMAT 1
#define BUNDLE_HEADER_MAX 64
#define BUNDLE_MANIFEST_MAX 4096
#define BUNDLE_SIG_LEN 64 /* Ed25519 */
#define BUNDLE_MAX_PARTS 8
#define BUNDLE_NAME_MAX 32 /* [a-z0-9._-], first a letter or digit */
#define BUNDLE_VERSION_MAX 32
#define BUNDLE_PRODUCT_MAX 32
#define BUNDLE_PART_MAX ((uint64_t)1 << 32) /* 4 GiB: far above a system slot */
#define BUNDLE_ERR_LEN 160

struct bundle_part {
    char name[BUNDLE_NAME_MAX + 1];
    uint64_t size;
    unsigned char sha256[32];
    uint64_t offset; /* from the start of the bundle */
};

struct bundle_manifest {
    char product[BUNDLE_PRODUCT_MAX + 1];
    char version[BUNDLE_VERSION_MAX + 1];
    char min_from[BUNDLE_VERSION_MAX + 1];
    int64_t build_date;
    unsigned nparts;
    struct bundle_part parts[BUNDLE_MAX_PARTS];
    uint64_t parts_size; /* the sum of the parts' sizes */
};

/* Parses the header line (line[0..len), its '\n' included). Returns the
 * manifest's length (1..BUNDLE_MANIFEST_MAX), or -1 with err. */
long bundle_header_parse(const char *line, size_t len, char *err, size_t errlen);

/* Parses the manifest text (buf[0..len), not NUL-terminated) into *m; the
 * parts' offsets count from base (the bytes before the first part).
 * Returns 0, or -1 with err naming the line and what is wrong. */
int bundle_manifest_parse(const char *buf, size_t len, uint64_t base, struct bundle_manifest *m,
                          char *err, size_t errlen);

/* True when v is MAJOR.MINOR.PATCH with an optional -PRERELEASE
 * (dot-separated [0-9A-Za-z-] identifiers), numbers without leading zeros
 * and at most 9 digits, the whole at most BUNDLE_VERSION_MAX bytes. */
int bundle_version_valid(const char *v);

/* Semantic version order of two valid versions: <0, 0, >0 (a pre-release
 * sorts before its release: 1.0.0-rc.1 < 1.0.0). */
int bundle_version_cmp(const char *a, const char *b);

#endif
