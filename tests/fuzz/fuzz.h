/* Shared by every harness: the libFuzzer entry point and a check that
 * aborts, so a broken property is a finding like a crash (libFuzzer saves
 * the input; the replay prints it as "not ok"). */
#ifndef PULLBOX_FUZZ_H
#define PULLBOX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
