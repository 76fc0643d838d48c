/* Password guessing limits of the wizard's login and claim, kept in one
 * fixed-size file under PATH_STATE and changed only under its lock,
 * because lighttpd runs one CGI process per request, in parallel:
 *
 * - an attempt is recorded before its password is checked, so parallel
 *   requests cannot all pass the check before any is counted: after
 *   RATELIMIT_FAILURES attempts within RATELIMIT_WINDOW seconds a client
 *   waits (429) until the oldest leaves the window; a success forgets them;
 * - a client is its IPv4 address, or its IPv6 /64 (a host picks new
 *   addresses inside its /64 at will);
 * - on top, every attempt from anywhere counts: beyond RATELIMIT_GLOBAL_FREE
 *   within RATELIMIT_WINDOW, the next is allowed only 1, 2, 4 ... up to
 *   RATELIMIT_GLOBAL_MAX_WAIT seconds after the last one, so many addresses
 *   together get about one guess a minute while the admin waits at most
 *   that long (and the console needs no network at all).
 * The table holds RATELIMIT_CLIENTS clients; a new one takes the place of
 * the one idle longest, so the file never grows. */
#ifndef PULLBOX_WIZARD_RATELIMIT_H
#define PULLBOX_WIZARD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#define RATELIMIT_FAILURES 5
#define RATELIMIT_WINDOW 300
#define RATELIMIT_CLIENTS 128
#define RATELIMIT_GLOBAL_FREE 20
#define RATELIMIT_GLOBAL_MAX_WAIT 60
#define RATELIMIT_KEY_MAX 48 /* "xxxx:xxxx:xxxx:xxxx::/64" or a dotted quad */

enum ratelimit_verdict {
    RATELIMIT_GO,     /* recorded: check the password */
    RATELIMIT_CLIENT, /* this client had its RATELIMIT_FAILURES tries */
    RATELIMIT_GLOBAL, /* too many tries from everywhere: back off */
    RATELIMIT_ERROR,  /* the table could not be read or written: refuse */
};

/* Called before a password or setup code is checked: records the attempt
 * of addr at now and returns RATELIMIT_GO, or refuses it without recording
 * and sets *wait to the seconds until it may try. */
enum ratelimit_verdict ratelimit_begin(const char *addr, long long now, long *wait);

/* After a right password: forgets addr's recorded attempts (the successful
 * one too) and takes the newest attempt off the global count. */
void ratelimit_clear(const char *addr);

/* The client addr counts as: an IPv4 address as it is ("::ffff:" taken
 * off), an IPv6 address as its /64 ("2001:db8:0:1::/64"). */
void ratelimit_client_key(const char *addr, char *out, size_t outlen);

#endif
