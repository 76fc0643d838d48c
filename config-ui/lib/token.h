/* Random tokens (session ids, CSRF tokens, request ids) from the kernel's
 * CSPRNG, and constant-time comparison of secrets. */
#ifndef PULLBOX_CFG_TOKEN_H
#define PULLBOX_CFG_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* nbytes random bytes as 2*nbytes lowercase hex digits in out (which holds
 * 2*nbytes+1). 0 or -1. */
int token_hex(char *out, size_t nbytes);
/* Constant time in the length of b (the expected value): true if equal. */
bool token_equal(const char *a, const char *b);
/* SHA-256 of s as 64 hex digits (session ids are stored by hash only). */
void token_sha256_hex(const char *s, char out[65]);
/* len random bytes into buf (getrandom, retried on EINTR and short reads).
 * 0 or -1 with errno. */
int token_random(void *buf, size_t len);
/* Lowercase hex of n bytes into out (2*n+1 bytes, NUL-terminated). */
void token_to_hex(const unsigned char *p, size_t n, char *out);

#endif
