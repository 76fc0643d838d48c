/* The admin's SSH keys as the wizard and the console show them, and the
 * rules both (and the apply service) apply before a change: a pasted line
 * must look like a public key (the apply service then checks it whole), and
 * SSH with a key only needs a key left, or nobody could log in over SSH. */
#ifndef PULLBOX_CFG_SSHKEYS_H
#define PULLBOX_CFG_SSHKEYS_H

#include "settings.h"

#include <stdbool.h>
#include <stddef.h>

#define SSHKEYS_MAX 32 /* keys authorized_keys may hold (the apply service's limit) */

/* One key as listed: enough to tell keys apart, never the whole blob. */
struct sshkey_summary {
    char type[64];     /* "ssh-ed25519" */
    char start[16];    /* the blob's first 12 characters */
    char end[16];      /* its last 8 */
    char comment[256]; /* "you@laptop", or "" */
};

/* The keys of an authorized_keys text, numbered as the apply service counts
 * them (non-empty lines not starting with '#'): up to max into out.
 * Returns how many keys the text holds (may exceed max). */
int sshkeys_list(const char *text, size_t len, struct sshkey_summary *out, int max);

/* True when line starts as a public key line does (its type). */
bool sshkeys_looks_like_key(const char *line);
/* What the front ends say of a line that does not. */
#define SSHKEYS_NOT_A_KEY                                                                          \
    "that is not a public key line: it starts with its type (ssh-ed25519, ssh-rsa, "               \
    "ecdsa-sha2-nistp256, ...)"

/* Why st may not turn SSH to keys only with nkeys keys installed, or NULL
 * when it may (the label of ssh.key-only is not included). */
const char *sshkeys_key_only_refusal(int nkeys);

/* Why one of nkeys keys may not be removed with these settings (the last
 * one while SSH takes a key only), or NULL. */
const char *sshkeys_remove_refusal(const struct settings *st, int nkeys);

#endif
