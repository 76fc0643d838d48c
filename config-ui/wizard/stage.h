/* Requests staged for this session between a check the admin has seen and
 * its confirmation (an uploaded certificate, an opened backup): kept in the
 * wizard's state folder, never in a page, and taken once. */
#ifndef PULLBOX_WIZARD_STAGE_H
#define PULLBOX_WIZARD_STAGE_H

#include "session.h"

struct request;

/* Keeps r as <state>/<session hash>.<what>. 0 or -1. */
int stage_put(const struct session *s, const char *what, const struct request *r);

/* Reads and removes the staged request; it must have op. 0, or -1 when
 * none is waiting (r is then empty). */
int stage_take(const struct session *s, const char *what, const char *op, struct request *r);

#endif
