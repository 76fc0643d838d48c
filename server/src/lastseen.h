/* Last-seen times the Bitrix site reports for users (the V5 JSON-RPC
 * method updateUsersLastSeen), kept so that getUsersLastSeen can answer for
 * users this server has not seen itself. Bounded: at most `cap` users; when
 * full, a new user replaces the one first stored longest ago. Every function
 * is safe from any thread (one mutex: writes come from the publish port
 * only, reads from a JSON-RPC request). */
#ifndef PULLBOX_LASTSEEN_H
#define PULLBOX_LASTSEEN_H

#include "first.h"

#define LASTSEEN_ID_MAX 20 /* decimal digits of a user id: an int64 fits */

struct lastseen;

/* An empty table for at most cap (> 0) users; memory grows as users come. */
struct lastseen *lastseen_new(size_t cap);
/* Frees t; NULL is a no-op. */
void lastseen_free(struct lastseen *t);
/* Whether user[0..len) is a user id the table keeps: 1 to LASTSEEN_ID_MAX
 * decimal digits. */
bool lastseen_id_ok(const char *user, size_t len);
/* Records that user (lastseen_id_ok) was last seen at unix time `when`; an
 * older time than the one kept is ignored. Copies user. */
void lastseen_put(struct lastseen *t, const char *user, size_t len, int64_t when);
/* The time kept for user; false when none is. */
bool lastseen_get(struct lastseen *t, const char *user, size_t len, int64_t *when);
/* Users kept. */
size_t lastseen_count(struct lastseen *t);

#endif
