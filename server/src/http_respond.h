/* HTTP answers (http_respond.c). */
#ifndef PULLBOX_HTTP_RESPOND_H
#define PULLBOX_HTTP_RESPOND_H

#include "first.h"

struct conn;

/* Response helpers: the standard headers (CORS, Content-Length, Connection)
 * are added here. extra_headers, if any, are complete "Name: value\r\n" lines. */
void http_respond(struct conn *c, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t len);
/* Bitrix error: status from the code (<1000: itself, 4000: 200, 4029: 429,
 * else 400), body "<code>: <text>". */
void http_respond_code(struct conn *c, int code, const char *text);
const char *http_code_text(int code);

#endif
