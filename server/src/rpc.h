/* V5 JSON-RPC (rpc.c): PHP's requests on the publish port and a V5
 * client's over its WebSocket. */
#ifndef PULLBOX_RPC_H
#define PULLBOX_RPC_H

#include "first.h"

struct conn;
struct http1_request;

void rpc_handle_http(struct conn *c, const struct http1_request *req, const uint8_t *body,
                     size_t len);
/* A text frame from a V5 client. */
void rpc_handle_client_text(struct conn *c, const uint8_t *p, size_t n);

#endif
