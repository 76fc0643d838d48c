/* The admin's SSH keys: listing and the rules before a change (see
 * sshkeys.h). */
#include "sshkeys.h"

#include <stdio.h>
#include <string.h>

int sshkeys_list(const char *text, size_t len, struct sshkey_summary *out, int max)
{
    const char *p = text, *end = text + len;
    int n = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[8192];
        if (l > 0 && p[0] != '#') {
            if (n < max) {
                struct sshkey_summary *k = &out[n];
                char blob[8192] = "";
                snprintf(line, sizeof(line), "%.*s", (int)l, p);
                memset(k, 0, sizeof(*k));
                sscanf(line, "%63s %8191s %255[^\n]", k->type, blob, k->comment);
                snprintf(k->start, sizeof(k->start), "%.12s", blob);
                snprintf(k->end, sizeof(k->end), "%s",
                         strlen(blob) > 8 ? blob + strlen(blob) - 8 : "");
            }
            n++;
        }
        p += l + (nl ? 1 : 0);
    }
    return n;
}

bool sshkeys_looks_like_key(const char *line)
{
    return strncmp(line, "ssh-", 4) == 0 || strncmp(line, "ecdsa-", 6) == 0 ||
           strncmp(line, "sk-", 3) == 0;
}

const char *sshkeys_key_only_refusal(int nkeys)
{
    return nkeys > 0 ? NULL
                     : "no SSH key is installed for admin: add one before SSH takes a key only "
                       "(ssh.key-only), or nobody could log in over SSH";
}

const char *sshkeys_remove_refusal(const struct settings *st, int nkeys)
{
    if (nkeys > 1 || strcmp(st->v[S_SSH_KEY_ONLY], "yes") != 0)
        return NULL;
    return "this is the last SSH key and SSH takes a key only (ssh.key-only): let SSH take "
           "the admin password again first, or nobody could log in over SSH";
}
