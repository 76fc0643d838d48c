/* The admin password: policy, yescrypt hashing through libxcrypt, and a
 * verification that re-hashes with the stored setting and compares the
 * two strings in constant time. */
#include "passwd.h"

#include "token.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int passwd_check_policy(const char *password, char *err, size_t errlen)
{
    size_t len = strlen(password);

    if (len < PASSWORD_MIN) {
        snprintf(err, errlen, "The password is too short: use at least %d characters.",
                 PASSWORD_MIN);
        return -1;
    }
    if (len > PASSWORD_MAX) {
        snprintf(err, errlen, "The password is too long: use at most %d characters.", PASSWORD_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)password[i];

        if (c < 0x20 || c == 0x7f) {
            snprintf(err, errlen,
                     "The password contains a control character (such as a tab or a line "
                     "break): use letters, digits, spaces and punctuation.");
            return -1;
        }
    }
    return 0;
}

/* crypt_rn() with its ~32 KiB work area on the heap rather than the stack
 * (the CGI may run with a small stack). Copies the result into out.
 * Returns 0, or -1 when libxcrypt refuses (it then returns NULL or a
 * string starting with '*'). */
static int passwd_crypt(const char *password, const char *setting, char *out, size_t outlen)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *h;
    int rc = -1;

    if (!cd)
        return -1;
    h = crypt_rn(password, setting, cd, (int)sizeof *cd);
    if (h && h[0] != '*' && strlen(h) < outlen) {
        memcpy(out, h, strlen(h) + 1);
        rc = 0;
    }
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return rc;
}

int passwd_hash(const char *password, char *out, size_t outlen)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];

    /* count 0 = libxcrypt's default cost for yescrypt; NULL random bytes =
     * libxcrypt reads the salt from the kernel itself. */
    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof setting))
        return -1;
    return passwd_crypt(password, setting, out, outlen);
}

bool passwd_verify(const char *password, const char *hash)
{
    char h[CRYPT_OUTPUT_SIZE];
    bool match;

    /* Empty, "*" and "!..." are the shadow file's "no password"/"locked"
     * markers; crypt would fail on them anyway, but say so explicitly. */
    if (!hash[0] || hash[0] == '*' || hash[0] == '!')
        return false;
    if (passwd_crypt(password, hash, h, sizeof h) != 0)
        return false;
    match = token_equal(h, hash);
    explicit_bzero(h, sizeof h);
    return match;
}
