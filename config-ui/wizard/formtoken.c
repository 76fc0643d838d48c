/* Stateless form tokens (see formtoken.h). */
#include "formtoken.h"

#include "ratelimit.h"
#include "root.h"
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define FORMTOKEN_KEY_FILE PATH_STATE "/form.key"
#define FORMTOKEN_KEY_BYTES 32

static int key_read(const char *path, unsigned char key[FORMTOKEN_KEY_BYTES])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, key, FORMTOKEN_KEY_BYTES);
    close(fd);
    return n == FORMTOKEN_KEY_BYTES ? 0 : -1;
}

/* The appliance's key, made on first use: written under a temporary name
 * and linked into place, so two first requests agree on one key and
 * neither reads a half-written file. */
static int key_load(unsigned char key[FORMTOKEN_KEY_BYTES])
{
    char path[512], tmp[560];
    if (root_path(path, sizeof(path), FORMTOKEN_KEY_FILE) < 0)
        return -1;
    if (key_read(path, key) == 0)
        return 0;
    if (errno != ENOENT || token_random(key, FORMTOKEN_KEY_BYTES) < 0)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    bool written = write(fd, key, FORMTOKEN_KEY_BYTES) == FORMTOKEN_KEY_BYTES && fsync(fd) == 0;
    close(fd);
    int rc = written && link(tmp, path) == 0 ? 0 : -1;
    unlink(tmp);
    if (rc < 0 && written && errno == EEXIST)
        rc = key_read(path, key); /* another request made it first */
    return rc;
}

static int formtoken_mac(const char *purpose, const char *addr, unsigned long long expiry,
                         char out[65])
{
    unsigned char key[FORMTOKEN_KEY_BYTES], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char client[RATELIMIT_KEY_MAX], msg[256];
    if (key_load(key) < 0)
        return -1;
    ratelimit_client_key(addr, client, sizeof(client));
    int n = snprintf(msg, sizeof(msg), "pullbox-form 1\n%s\n%s\n%llu", purpose, client, expiry);
    bool good =
        n > 0 && (size_t)n < sizeof(msg) &&
        HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)msg, (size_t)n, md, &mdlen) &&
        mdlen == 32;
    memset(key, 0, sizeof(key));
    if (!good)
        return -1;
    token_to_hex(md, 32, out);
    return 0;
}

int formtoken_make(const char *purpose, const char *addr, long long now,
                   char out[FORMTOKEN_HEX + 1])
{
    unsigned long long expiry = (unsigned long long)(now + FORMTOKEN_SECONDS);
    char mac[65];
    if (formtoken_mac(purpose, addr, expiry, mac) < 0)
        return -1;
    snprintf(out, FORMTOKEN_HEX + 1, "%016llx%s", expiry, mac);
    return 0;
}

bool formtoken_ok(const char *purpose, const char *addr, long long now, const char *token)
{
    char exp_hex[17], mac[65];
    if (!token || strlen(token) != FORMTOKEN_HEX)
        return false;
    for (int i = 0; i < FORMTOKEN_HEX; i++)
        if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
            return false;
    memcpy(exp_hex, token, 16);
    exp_hex[16] = '\0';
    unsigned long long expiry = strtoull(exp_hex, NULL, 16);
    /* a token from the future was not made here (or the clock went back far) */
    if (expiry < (unsigned long long)now || expiry > (unsigned long long)(now + FORMTOKEN_SECONDS))
        return false;
    if (formtoken_mac(purpose, addr, expiry, mac) < 0)
        return false;
    return token_equal(token + 16, mac);
}
