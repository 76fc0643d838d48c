/* main() for a harness built without libFuzzer (gcc, or clang without its
 * runtime): runs every file named on the command line once, as libFuzzer
 * would, and prints TAP. A crash or a failed property aborts with the
 * sanitizer's report on stderr, which the test driver shows. */
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *p = malloc(cap);
    size_t r;
    while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            p = realloc(p, cap *= 2);
    }
    fclose(f);
    *len = n;
    return p;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    printf("1..%d\n", argc - 1);
    fflush(stdout);
    for (int i = 1; i < argc; i++) {
        size_t len = 0;
        uint8_t *p = slurp(argv[i], &len);
        if (!p) {
            printf("not ok %d - %s: cannot read\n", i, argv[i]);
            continue;
        }
        /* an exact-size copy, so ASan sees a read one past the input */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, p, len);
        free(p);
        LLVMFuzzerTestOneInput(copy, len);
        free(copy);
        printf("ok %d - %s\n", i, argv[i]);
        fflush(stdout);
    }
    return 0;
}
