/* Login rate limit per client address: after RATELIMIT_FAILURES wrong
 * passwords or setup codes within RATELIMIT_WINDOW seconds, further
 * attempts from that address are refused (429) until the oldest failure
 * leaves the window. Stored under PATH_STATE by the SHA-256 of the address. */
#ifndef PULLBOX_WIZARD_RATELIMIT_H
#define PULLBOX_WIZARD_RATELIMIT_H

#include <stdbool.h>

#define RATELIMIT_FAILURES 5
#define RATELIMIT_WINDOW 300

/* true if addr may try now; otherwise *wait is the seconds until it may. */
bool ratelimit_allowed(const char *addr, long long now, long *wait);
/* Records a failed attempt of addr. */
void ratelimit_failed(const char *addr, long long now);
/* Forgets addr's failures (after a success). */
void ratelimit_clear(const char *addr);

#endif
