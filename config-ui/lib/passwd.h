/* The admin password: hashed with yescrypt ("$y$", libxcrypt's crypt_r,
 * the same library login and dropbear use on the appliance) and checked in
 * constant time. */
#ifndef PULLBOX_CFG_PASSWD_H
#define PULLBOX_CFG_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_MIN 10
#define PASSWORD_MAX 128

/* Refuses passwords shorter than PASSWORD_MIN or longer than PASSWORD_MAX
 * bytes, or with control characters; err says the rule. 0 or -1. */
int passwd_check_policy(const char *password, char *err, size_t errlen);
/* out receives the crypt string ("$y$..."). 0 or -1. */
int passwd_hash(const char *password, char *out, size_t outlen);
/* True if password matches hash (hash "" or "*" or "!" never matches). */
bool passwd_verify(const char *password, const char *hash);

#endif
