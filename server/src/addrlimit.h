/* Open connections per client address, one table for every worker: with
 * SO_REUSEPORT the kernel spreads one address's connections over all the
 * workers' sockets, so only a shared count can hold a per-address limit.
 * Touched once per accept and once per close (never on delivery), under a
 * mutex.
 *
 * IPv4 addresses (and IPv4-mapped IPv6 ones) count one by one. IPv6 counts
 * per /64: a subscriber's site is given at least a /64 and can use any of
 * its 2^64 addresses, so counting single addresses would limit nothing. */
#ifndef PULLBOX_ADDRLIMIT_H
#define PULLBOX_ADDRLIMIT_H

#include "first.h"

#include <sys/socket.h>

/* IPv6: a = the /64 prefix, b = 0. IPv4: a = 0, b = 2^32 | address, which
 * no IPv6 key has. */
struct addr_key {
    uint64_t a, b;
};

struct addr_table;

/* The key peer sa counts under. False for families that are not counted. */
bool addr_key_of(const struct sockaddr *sa, struct addr_key *k);
/* A loopback peer: 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address. */
bool addr_is_loopback(const struct sockaddr *sa);
/* "1.2.3.4" or "2001:db8::/64", for the log (out holds 64 bytes). */
void addr_key_format(const struct addr_key *k, char out[64]);

struct addr_table *addr_table_new(void);
/* Frees t (NULL: nothing). Every worker must have stopped. */
void addr_table_free(struct addr_table *t);
/* Counts one more connection from k, unless limit are open already:
 * returns false then, and nothing is counted. Any thread. */
bool addr_table_acquire(struct addr_table *t, const struct addr_key *k, unsigned limit);
/* A connection counted by addr_table_acquire has closed. Any thread. */
void addr_table_release(struct addr_table *t, const struct addr_key *k);
/* Connections counted for k now (for tests and the log). */
unsigned addr_table_count(struct addr_table *t, const struct addr_key *k);

#endif
