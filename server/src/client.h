/* What a subscriber sends on its own connection (client.c): V5 JSON-RPC
 * text and V4 protobuf publishes over a WebSocket. */
#ifndef PULLBOX_CLIENT_H
#define PULLBOX_CLIENT_H

#include "first.h"

struct conn;

/* A complete message from the client of c (c->on_message). */
void client_message(struct conn *c, bool binary, uint8_t *p, size_t n);

#endif
