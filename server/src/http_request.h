/* HTTP/1.1 requests on a connection (http_request.c): the protocol every
 * connection starts with and returns to after a long poll. Its table has
 * input (frame and serve requests), end (refuse with a status and text)
 * and input_cap; the transport fields a subscription needs stay NULL. */
#ifndef PULLBOX_HTTP_REQUEST_H
#define PULLBOX_HTTP_REQUEST_H

#include "transport.h"

extern const struct transport_ops http_request_ops;

#endif
