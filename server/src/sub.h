/* Subscriptions (sub.c): a subscribe request checked and joined to its
 * channels with its catch-up, the deliveries queued per subscriber and
 * turned into wire data once per loop turn, evictions and resumes. */
#ifndef PULLBOX_SUB_H
#define PULLBOX_SUB_H

#include "first.h"

struct conn;
struct http1_request;
struct msg;
struct server;
struct transport_ops;

/* What the client of a subscription sends (a transport with input hands
 * up each complete message). */
typedef void sub_message_fn(struct conn *c, bool binary, uint8_t *p, size_t n);

/* A subscribe request on transport tp (transport_for picked it); the
 * client's own messages go to on_message. */
void sub_handle(struct conn *c, const struct http1_request *req, const struct transport_ops *tp,
                sub_message_fn *on_message);
/* Queues m for c unless it has it already from this fan-out; written this
 * turn, or with later (the rest of a big fan-out) from the backlog. */
void sub_deliver(struct conn *c, struct msg *m, bool later);
/* sub_deliver with a reference to m the caller took (msg_ref_n): true when
 * c kept it, false when the caller still holds it. */
bool sub_deliver_held(struct conn *c, struct msg *m, bool later);
/* Builds the wire data for the deliveries queued on c and hands it to c's
 * transport (conn_flush_all's prepare step). */
void sub_flush(struct conn *c);
/* Closes the oldest subscriber here of channel id (4029); false if none. */
bool sub_evict_oldest(struct server *s, const char *id);
/* The store's catch-up for c arrived: fetched[0..n) (sorted by mid, newer
 * than c->lp_mid; references stay the caller's), or ok false when it could
 * not be read (the local histories serve instead). Merged with what arrived
 * live meanwhile, in mid order, each mid once. */
void sub_catchup_finish(struct conn *c, struct msg **fetched, size_t n, bool ok);
/* Ends every subscription here so that clients resume by mid: WebSockets
 * close with `code`, long polls answer 304 with their mid. */
void sub_resume_all(struct server *s, uint16_t code, const char *reason);

#endif
