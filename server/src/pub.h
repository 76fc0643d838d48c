/* The publish side (pub.c): PHP's publishes, DELETE and channel stats on
 * the publish port, clients' protobuf publishes and their limits, and the
 * acknowledgements that wait for the store. */
#ifndef PULLBOX_PUB_H
#define PULLBOX_PUB_H

#include "first.h"

struct buf;
struct conn;
struct http1_request;
struct msg;
struct pub_ack;
struct server;

void pub_handle(struct conn *c, const struct http1_request *req, const uint8_t *body, size_t len);
/* Untrusted protobuf RequestBatch from client connection c (POST
 * /bitrix/rest/ or a WebSocket binary frame). Returns 0 or a Bitrix error
 * code, or PUB_TOO_BIG / PUB_TOO_FAST with why naming the limit; out gets
 * the ResponseBatch to send back, if any. */
int pub_client_batch(struct conn *c, const uint8_t *pub_id, bool has_pub_id, const uint8_t *data,
                     size_t len, struct buf *out, char *why, size_t whylen);
/* The limits of untrusted publishes, refused as a whole: a message above
 * client-max-message-size (HTTP 413), or more than the connection's
 * publish bucket holds (client-publish-rate/-burst; HTTP 429). */
#define PUB_TOO_BIG 413
#define PUB_TOO_FAST 429
/* Checks n messages of the given body sizes that client connection c is
 * about to publish, and takes them from its bucket. Returns 0, or
 * PUB_TOO_BIG / PUB_TOO_FAST with why (< 120 bytes) naming the limit. */
int pub_client_admit(struct conn *c, const size_t *sizes, size_t n, char *why, size_t whylen);
/* A message a client publishes is kept client-message-ttl at most: caps
 * m's expiry (before it is published). */
void pub_client_expiry(const struct server *s, struct msg *m);
void pub_handle_client(struct conn *c, const struct http1_request *req, const uint8_t *body,
                       size_t len);
/* For stores that confirm later: one more message of the request being
 * served awaits confirmation. Returns the request's ack (NULL when none is
 * being served, e.g. a WebSocket client publish: nobody waits). */
struct pub_ack *pub_ack_hold(struct server *s);
/* Starts a publish request whose answer waits for the store's
 * confirmation; NULL when the store confirms at once (no waiting). */
struct pub_ack *pub_ack_begin(struct server *s);
/* Makes an answer's body: malloc'ed text and its length; with len NULL it
 * only frees ctx (the answer is a 503, or nobody waits for it). */
typedef char *pub_ack_render_fn(void *ctx, size_t *len);
/* Answers the request of a (or at once when a is NULL) with a body made by
 * render once the store confirmed every message: the body can then hold
 * what the store assigned (a Redis cluster's mids). */
void pub_ack_respond_render(struct conn *c, struct pub_ack *a, int status, const char *ctype,
                            pub_ack_render_fn *render, void *ctx);
/* Answers the request of a with a 503 once its confirmed or lost messages
 * are settled: part of it was refused. */
void pub_ack_fail(struct conn *c, struct pub_ack *a);
/* The store kept (ok) or lost one message held with pub_ack_hold; the last
 * one answers the waiting request (503 if any was lost). */
void pub_ack_done(struct server *s, struct pub_ack *a, bool ok);
/* The waiting connection is going away: its answer is dropped. */
void pub_ack_forget(struct conn *c);
/* Whether a POST to the publish port must wait, unread, for the fan-outs
 * before it, while they are behind (worker_fanout_behind): a text publish
 * to channels with more than PUBLISH_WRITE_NOW subscribers in all, and any
 * request whose channels are in its body (protobuf, or whole_body: the
 * JSON-RPC API; protobuf channel stats wait too). The rest (small
 * channels, text stats, /health) is served at once. A publisher is so slowed to what the fan-outs deliver: the queued
 * deliveries stay bounded, and nothing acknowledged is dropped for it. */
bool pub_must_wait(struct conn *c, const struct http1_request *req, bool whole_body);

#endif
