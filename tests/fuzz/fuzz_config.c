/* pullbox.conf (config_load). Input: the file. It is read through a memfd,
 * so the real fopen path runs.
 * Properties: a file that loads, written back as "key=value" lines from the
 * table, loads to the same values (nothing is read two ways); a file with a
 * NUL byte never loads (the rest of its line would be silently dropped); a
 * refused file gets a message that names the file, and blames a long line
 * only when one is; config_dup copies every value; loading the same bytes
 * twice gives the same verdict. */
/* fuzz-link: server */
#include "../../server/src/config.c"
#include "../../server/src/buf.h"

#include "fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

static int fd = -1;
static char path[64];

static void put_file(const void *p, size_t n)
{
    if (fd < 0) {
        fd = memfd_create("pullbox.conf", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    FUZZ_CHECK(n == 0 || pwrite(fd, p, n, 0) == (ssize_t)n);
}

static void check_same(struct config *a, struct config *b)
{
    size_t n_opts;
    const struct config_opt *options = config_opts(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        const struct config_opt *o = &options[i];
        if (o->type == CONFIG_OPT_STR || o->type == CONFIG_OPT_PATH)
            FUZZ_CHECK(strcmp(*(char **)field(a, o), *(char **)field(b, o)) == 0);
        else if (o->type == CONFIG_OPT_INT)
            FUZZ_CHECK(*(long *)field(a, o) == *(long *)field(b, o));
        else
            FUZZ_CHECK(*(int *)field(a, o) == *(int *)field(b, o));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config a, b, c;
    char err[512], err2[512];
    if (size > 64 * 1024)
        return 0;
    put_file(data, size);
    err[0] = 0;
    int ra = config_load(path, &a, err, sizeof err);
    FUZZ_CHECK(ra == 0 || ra == -1);
    if (ra != 0) {
        FUZZ_CHECK(err[0] != 0);
        /* "<path>:<line>: line longer than ..." (a key's own text may say "longer than", and a
         * cross-key error, which names no file, may quote a value that does) */
        bool names_file = strncmp(err, path, strlen(path)) == 0;
        const char *tail = err + (names_file ? strlen(path) : 0);
        if (names_file && *tail == ':')
            tail += 1 + strspn(tail + 1, "0123456789");
        if (names_file && strncmp(tail, ": line longer than", 18) == 0) {
            size_t line = 0, longest = 0;
            for (size_t i = 0; i < size; i++) {
                line = data[i] == '\n' ? 0 : line + 1;
                longest = line > longest ? line : longest;
            }
            FUZZ_CHECK(longest > 4094);
        }
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 || strchr(err, ':'));
        FUZZ_CHECK(config_load(path, &b, err2, sizeof err2) == -1 && strcmp(err, err2) == 0);
        return 0;
    }
    FUZZ_CHECK(!memchr(data, 0, size));
    /* the canonical file: every key, "key=value" (no longer than the input's lines) */
    struct buf out;
    buf_init(&out);
    size_t n_opts;
    const struct config_opt *options = config_opts(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        const struct config_opt *o = &options[i];
        char num[32];
        const char *v = num;
        if (o->type == CONFIG_OPT_STR || o->type == CONFIG_OPT_PATH)
            v = *(char **)field(&a, o);
        else if (o->type == CONFIG_OPT_INT)
            snprintf(num, sizeof num, "%ld", *(long *)field(&a, o));
        else
            v = o->names[*(int *)field(&a, o)];
        buf_append(&out, o->name, strlen(o->name));
        buf_append_byte(&out, '=');
        buf_append(&out, v, strlen(v));
        buf_append_byte(&out, '\n');
    }
    put_file(out.data, out.len);
    buf_deinit(&out);
    FUZZ_CHECK(config_load(path, &b, err, sizeof err) == 0);
    check_same(&a, &b);
    config_dup(&c, &a);
    check_same(&a, &c);
    config_free(&a);
    config_free(&b);
    config_free(&c);
    return 0;
}
