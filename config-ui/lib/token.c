/* Random tokens from the kernel's CSPRNG and constant-time comparison of
 * secrets (session ids, CSRF tokens, setup codes, password hashes). */
#include "token.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

/* Upper bound on getrandom() calls for one request: it returns at most
 * 32 MiB per call and short reads only happen for signals, so this is
 * never reached unless the kernel misbehaves. */
#define TOKEN_MAX_TRIES 64

/* Fills buf with len random bytes from getrandom(2), retrying on EINTR
 * and short reads. Returns 0, or -1 with errno set. */
int token_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    size_t got = 0;

    for (int tries = 0; got < len && tries < TOKEN_MAX_TRIES; tries++) {
        ssize_t n = getrandom(p + got, len - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    if (got < len) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* Lowercase hex of n bytes into out (2*n + 1 bytes, NUL-terminated). */
void token_to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Random bytes are drawn in chunks of this size so that any nbytes works
 * without a heap allocation. */
#define TOKEN_CHUNK 64

int token_hex(char *out, size_t nbytes)
{
    unsigned char raw[TOKEN_CHUNK];

    for (size_t done = 0; done < nbytes;) {
        size_t n = nbytes - done < TOKEN_CHUNK ? nbytes - done : TOKEN_CHUNK;

        if (token_random(raw, n) != 0)
            return -1;
        token_to_hex(raw, n, out + 2 * done);
        done += n;
    }
    out[2 * nbytes] = '\0';
    return 0;
}

/* Runs over every byte of b whatever a holds: a byte of a beyond its end is
 * replaced by a[0] through a mask (no branch on the data), and the length
 * difference is folded into the same accumulator, so the time depends on
 * strlen(b) only and tells nothing about where a and b first differ. */
bool token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t diff = la ^ lb;

    for (size_t i = 0; i < lb; i++) {
        size_t in = (size_t)0 - (size_t)(i < la); /* all ones while i < la */
        size_t j = i & in;

        diff |= (size_t)((unsigned char)a[j] ^ (unsigned char)b[i]);
    }
    return diff == 0;
}

void token_sha256_hex(const char *s, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        /* libcrypto without SHA-256 is a broken build; an empty hash
         * matches no stored session rather than all of them. */
        out[0] = '\0';
        return;
    }
    token_to_hex(md, 32, out);
}
