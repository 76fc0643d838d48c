/* The security token of the forms shown before anyone has logged in (the
 * claim and the login): stateless, so a visitor without a session costs the
 * appliance no file. The token is its expiry and an HMAC-SHA256 over the
 * expiry, the form's purpose and the client's address (an IPv6 client by
 * its /64, as the rate limit counts it), keyed with a per-appliance secret
 * that only the wizard's user can read (<state>/form.key, made on first
 * use). A token is good for FORMTOKEN_SECONDS, for that form, from that
 * address. */
#ifndef PULLBOX_WIZARD_FORMTOKEN_H
#define PULLBOX_WIZARD_FORMTOKEN_H

#include <stdbool.h>

#define FORMTOKEN_SECONDS (30 * 60)
#define FORMTOKEN_HEX 80 /* 16 hex digits of expiry + 64 of HMAC */

/* The token of form `purpose` ("login", "claim") for addr at now into out
 * (FORMTOKEN_HEX + 1 bytes). 0, or -1 when the key is unavailable. */
int formtoken_make(const char *purpose, const char *addr, long long now,
                   char out[FORMTOKEN_HEX + 1]);

/* true if token was made by formtoken_make for the same purpose and address
 * and has not expired; compared in constant time. */
bool formtoken_ok(const char *purpose, const char *addr, long long now, const char *token);

#endif
