/*
 * pullbox-update-verify: checks an update bundle (lib/bundle.h) before
 * anything is installed from it, and prints its verified manifest.
 *
 *   pullbox-update-verify [--key PEM] [--running VERSION] [--allow-downgrade]
 *                         [--space DIR] FILE|-
 *
 * Checks, in order, and stops at the first refusal: the framing (header,
 * manifest, signature, and for a file its exact length: a truncated upload
 * or trailing bytes), the product, the Ed25519 signature of the manifest
 * against the key baked into the system (--key: another), the version
 * against the running one (--running: another; a downgrade only with
 * --allow-downgrade, and never below the bundle's min-from), each part's
 * size and SHA-256 (read in 64 KiB steps: the bundle never sits in
 * memory), and with --space that DIR's file system has room for the parts.
 * It only reads: a refusal changes nothing.
 *
 * Exits 0 and prints key=value lines (format, product, version, min-from,
 * build-date, parts, then part.N.name/size/sha256/offset, N from 1) for the
 * installer; 1 with "refused: WHAT: WHY" on stderr; 100 on usage errors;
 * 111 when it cannot read the bundle or the key.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bundle.h"
#include "root.h"

#define PROG "pullbox-update-verify"
#define USAGE PROG " [--key PEM] [--running VERSION] [--allow-downgrade] [--space DIR] FILE|-"
#define PRODUCT "pullbox"
#define PATH_UPDATE_KEY "usr/share/pullbox/update-key.pem" /* baked in by the image build */
#define PATH_VERSION "etc/pullbox-version"                 /* written by mkrootfs.sh */
#define CHUNK (64 * 1024)

static void die_usage(void)
{
    fprintf(stderr, "usage: %s\n", USAGE);
    exit(100);
}

static void die_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_sys(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", PROG);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(111);
}

static void refuse(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void refuse(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: refused: %s: ", PROG, what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Reads exactly n bytes; returns how many came before end of file. */
static size_t read_full(FILE *f, void *buf, size_t n, const char *path)
{
    size_t got = fread(buf, 1, n, f);
    if (got < n && ferror(f))
        die_sys("read %s: %s", path, strerror(errno));
    return got;
}

static void read_running(char *out, size_t outlen)
{
    char path[4096];
    if (root_path(path, sizeof(path), PATH_VERSION) != 0)
        die_sys("PULLBOX_ROOT is not usable");
    FILE *f = fopen(path, "r");
    if (!f)
        die_sys("open %s: %s (give --running VERSION)", path, strerror(errno));
    if (!fgets(out, (int)outlen, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
    if (!bundle_version_valid(out))
        die_sys("%s: not a version: \"%s\"", path, out);
}

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die_sys("open key %s: %s", path, strerror(errno));
    EVP_PKEY *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!key)
        die_sys("key %s: not a PEM public key", path);
    if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        die_sys("key %s: not an Ed25519 key", path);
    }
    return key;
}

static int signature_ok(EVP_PKEY *key, const unsigned char *sig, const char *msg, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        die_sys("out of memory");
    int ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, BUNDLE_SIG_LEN, (const unsigned char *)msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* Streams one part through SHA-256 and compares size and hash. */
static void check_part(FILE *f, const char *path, const struct bundle_part *part,
                       unsigned char *buf)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        die_sys("SHA-256 unavailable");
    uint64_t left = part->size;
    while (left > 0) {
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        size_t got = read_full(f, buf, want, path);
        if (got > 0 && EVP_DigestUpdate(ctx, buf, got) != 1)
            die_sys("SHA-256 failed");
        left -= got;
        if (got < want)
            refuse("truncated", "part %s has %llu of its %llu bytes", part->name,
                   (unsigned long long)(part->size - left), (unsigned long long)part->size);
    }
    unsigned char md[32];
    unsigned mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != sizeof(md))
        die_sys("SHA-256 failed");
    EVP_MD_CTX_free(ctx);
    if (memcmp(md, part->sha256, sizeof(md)) != 0) {
        char got_hex[65], want_hex[65];
        hex(md, 32, got_hex);
        hex(part->sha256, 32, want_hex);
        refuse("tampered part", "%s: SHA-256 %s, the signed manifest says %s", part->name, got_hex,
               want_hex);
    }
}

int main(int argc, char **argv)
{
    const char *key_path = NULL, *running = NULL, *space_dir = NULL, *path = NULL;
    int allow_downgrade = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--allow-downgrade") == 0)
            allow_downgrade = 1;
        else if ((strcmp(a, "--key") == 0 || strcmp(a, "--running") == 0 ||
                  strcmp(a, "--space") == 0) &&
                 i + 1 < argc) {
            const char **dst = a[2] == 'k' ? &key_path : a[2] == 'r' ? &running : &space_dir;
            *dst = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0')
            die_usage();
        else if (path)
            die_usage();
        else
            path = a;
    }
    if (!path)
        die_usage();
    char err[BUNDLE_ERR_LEN], running_buf[BUNDLE_VERSION_MAX + 2], default_key[4096];
    if (running && !bundle_version_valid(running))
        die_usage();
    if (!running) {
        read_running(running_buf, sizeof(running_buf));
        running = running_buf;
    }
    if (!key_path) {
        if (root_path(default_key, sizeof(default_key), PATH_UPDATE_KEY) != 0)
            die_sys("PULLBOX_ROOT is not usable");
        key_path = default_key;
    }
    EVP_PKEY *key = load_key(key_path);

    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        die_sys("open %s: %s", path, strerror(errno));

    /* framing: the header line, the manifest, the signature */
    char header[BUNDLE_HEADER_MAX];
    size_t hlen = 0;
    int c;
    while (hlen < sizeof(header) && (c = getc(f)) != EOF) {
        header[hlen++] = (char)c;
        if (c == '\n')
            break;
    }
    if (ferror(f))
        die_sys("read %s: %s", path, strerror(errno));
    if (hlen < sizeof(header) && (hlen == 0 || header[hlen - 1] != '\n') &&
        (hlen == 0 || memcmp(header, BUNDLE_MAGIC, hlen < 14 ? hlen : 14) == 0))
        refuse("truncated", "the file ends inside the header line (%zu bytes)", hlen);
    long mlen = bundle_header_parse(header, hlen, err, sizeof(err));
    if (mlen < 0)
        refuse("framing", "%s", err);
    static char manifest[BUNDLE_MANIFEST_MAX];
    unsigned char sig[BUNDLE_SIG_LEN];
    size_t got = read_full(f, manifest, (size_t)mlen, path);
    if (got < (size_t)mlen)
        refuse("truncated", "the manifest has %zu of its %ld bytes", got, mlen);
    got = read_full(f, sig, sizeof(sig), path);
    if (got < sizeof(sig))
        refuse("truncated", "the signature has %zu of its %d bytes", got, BUNDLE_SIG_LEN);
    uint64_t base = hlen + (uint64_t)mlen + BUNDLE_SIG_LEN;
    struct bundle_manifest m;
    if (bundle_manifest_parse(manifest, (size_t)mlen, base, &m, err, sizeof(err)) != 0)
        refuse("framing", "%s", err);
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        uint64_t want = base + m.parts_size;
        if ((uint64_t)st.st_size < want)
            refuse("truncated", "the file has %llu bytes, the manifest describes %llu",
                   (unsigned long long)st.st_size, (unsigned long long)want);
        if ((uint64_t)st.st_size > want)
            refuse("framing", "%llu bytes after the last part",
                   (unsigned long long)((uint64_t)st.st_size - want));
    }

    if (strcmp(m.product, PRODUCT) != 0)
        refuse("product", "the bundle is for \"%s\", this system is %s", m.product, PRODUCT);
    if (!signature_ok(key, sig, manifest, (size_t)mlen))
        refuse("signature", "the manifest's signature does not verify with the key %s", key_path);
    EVP_PKEY_free(key);

    if (bundle_version_cmp(running, m.min_from) < 0)
        refuse("version", "%s installs only over %s or later; this system runs %s", m.version,
               m.min_from, running);
    if (bundle_version_cmp(m.version, running) < 0 && !allow_downgrade)
        refuse("downgrade", "%s is older than the running %s (confirm with --allow-downgrade)",
               m.version, running);

    static unsigned char buf[CHUNK];
    for (unsigned i = 0; i < m.nparts; i++)
        check_part(f, path, &m.parts[i], buf);
    if (getc(f) != EOF)
        refuse("framing", "bytes after the last part");
    if (ferror(f))
        die_sys("read %s: %s", path, strerror(errno));
    if (f != stdin)
        fclose(f);

    if (space_dir) {
        struct statvfs vfs;
        if (statvfs(space_dir, &vfs) != 0)
            die_sys("statvfs %s: %s", space_dir, strerror(errno));
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if (avail < m.parts_size)
            refuse("space", "%s has %llu bytes free, the parts need %llu", space_dir,
                   (unsigned long long)avail, (unsigned long long)m.parts_size);
    }

    printf("format=%d\nproduct=%s\nversion=%s\nmin-from=%s\nbuild-date=%lld\nparts=%u\n",
           BUNDLE_FORMAT, m.product, m.version, m.min_from, (long long)m.build_date, m.nparts);
    for (unsigned i = 0; i < m.nparts; i++) {
        char h[65];
        hex(m.parts[i].sha256, 32, h);
        printf("part.%u.name=%s\npart.%u.size=%llu\npart.%u.sha256=%s\npart.%u.offset=%llu\n",
               i + 1, m.parts[i].name, i + 1, (unsigned long long)m.parts[i].size, i + 1, h, i + 1,
               (unsigned long long)m.parts[i].offset);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        die_sys("write: %s", strerror(errno));
    return 0;
}
