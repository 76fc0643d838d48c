/* Allocation that never returns NULL (runit restarts a daemon that runs out
 * of memory; client input is bounded by limits, not by malloc failures),
 * plus small string helpers. */
#ifndef PULLBOX_UTIL_H
#define PULLBOX_UTIL_H

#include "first.h"

void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
void *xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));

/* Lower-case hex of len bytes into out (2*len chars + NUL). */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes 2*outlen hex chars (either case); false on a non-hex char. */
bool hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);
/* The value of one hex digit (either case), or -1. */
int hex_digit_value(char c);
/* The value of one base64 digit, 0..63, or -1: the standard alphabet
 * (RFC 4648 §4, '+' '/'), or with url the URL-safe one (§5, '-' '_'). */
int base64_digit_value(char c, bool url);

/* Constant-time equality of two byte strings of the same length. */
bool ct_equal(const void *a, const void *b, size_t len);

/* Case-insensitive comparison of a counted string with a C string. */
bool str_ieq(const char *s, size_t len, const char *lit);

/* Length of the valid UTF-8 sequence at p[0..n) (n > 0), 0 when none
 * starts there: no overlong forms, surrogates or code points past U+10FFFF
 * (what jansson and a browser's WebSocket accept). */
size_t utf8_seq_len(const uint8_t *p, size_t n);

/* Bytes of a memory budget set in MiB (history-memory, max-output-memory):
 * mib MiB, or for 0 an eighth of MemTotal (/proc/meminfo), at least 16 and
 * at most 4096 MiB. */
size_t memory_budget(long mib);

/* n strings in one allocation (pointers, then the strings): free() once. */
char **strv_copy(char *const *v, size_t n);

/* CLOCK_MONOTONIC in nanoseconds (a vDSO call: cheap enough to pace a
 * loop turn, unlike ev_now, which stays at the turn's start). */
uint64_t monotonic_ns(void);

/* FNV-1a hash of n bytes (for hash tables of ids). */
uint32_t fnv1a32(const char *s, size_t n);

#endif
