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

#endif
