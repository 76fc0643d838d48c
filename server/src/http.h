/* The request router (http.c). */
#ifndef PULLBOX_HTTP_H
#define PULLBOX_HTTP_H

#include "first.h"

struct conn;
struct http1_request;

/* Handles one parsed request; body is the complete body. The server's
 * request handler (s->on_request). */
void http_dispatch(struct conn *c, const struct http1_request *req, const uint8_t *body,
                   size_t body_len);
/* Whether a complete request must wait for the fan-outs before it
 * (s->request_waits): a big text publish while they are behind. */
bool http_request_waits(struct conn *c, const struct http1_request *req);

#endif
