/* Included first by every .c file: feature-test macros and the attributes
 * the code base uses everywhere. */
#ifndef PULLBOX_FIRST_H
#define PULLBOX_FIRST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PB_UNUSED __attribute__((unused))
#define PB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PB_WUR __attribute__((warn_unused_result))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
