/* HTTP answers written into a connection's output queue, and the texts of
 * the Bitrix error codes. */
#include "first.h"

#include "http_respond.h"
#include "conn.h"
#include "http1.h"
#include "server.h"

#include <stdio.h>
#include <string.h>

/* CORS: browsers on the Bitrix site's origin call the queue server's origin */
static const char cors_headers[] = "Access-Control-Allow-Origin: *\r\n";

void http_respond(struct conn *c, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t len)
{
    /* the head is built on the stack and joins the output queue in one
     * piece (responses to pipelined requests share a queue segment); it is
     * written before the loop sleeps, after the store has kept what this
     * request published */
    char head[1024];
    bool keep = (c->flags & CONN_F_KEEPALIVE) && !(c->flags & CONN_F_PEER_EOF);
    bool has_body = status != 304 && status != 204;
    char clen[40] = "";
    if (has_body)
        snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", len);
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s%s\r\n", status,
                     http1_reason(status), content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "", cors_headers,
                     extra_headers ? extra_headers : "", clen,
                     !keep                ? "Connection: close\r\n"
                     : c->http_minor == 0 ? "Connection: keep-alive\r\n"
                                          : "");
    if (n < 0 || (size_t)n >= sizeof head) {
        /* only a caller bug makes extra_headers this long */
        static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\n"
                                       "Content-Length: 0\r\nConnection: close\r\n\r\n";
        outq_append(&c->out, fallback, sizeof fallback - 1);
        keep = false;
        has_body = false;
    } else {
        outq_append(&c->out, head, (size_t)n);
    }
    if (len && has_body && !(c->flags & CONN_F_HEAD))
        outq_append(&c->out, body, len);
    conn_schedule_flush(c);
    if (!keep)
        conn_close_after_write(c);
}

const char *http_code_text(int code)
{
    switch (code) {
    case 4010:
        return "Wrong Channel Id.";
    case 4011:
        return "Couldn't get last messages.";
    case 4012:
        return "Public Channel Id is Required.";
    case 4013:
        return "Wrong Request Data.";
    case 4014:
        return "Request command is not allowed.";
    case 4015:
        return "Wrong Request Command.";
    case 4016:
        return "Request exceeded the maximum number of messages.";
    case 4017:
        return "No channels found.";
    case 4018:
        return "Request exceeded the maximum number of channels.";
    case 4019:
        return "Request has an invalid channel id.";
    case 4020:
        return "Private channel is not allowed.";
    case 4021:
        return "Channel has an invalid signature.";
    case 4022:
        return "Empty request.";
    case 4026:
        return "Wrong request signature.";
    case 4029:
        return "Too many connections.";
    case 4030:
        return "Wrong ChannelStats Request.";
    case 4031:
        return "Wrong ServerStats Request.";
    case 4032:
        return "Bad JSON request.";
    case 503:
        return "The message journal cannot be written: nothing was published.";
    case 4035:
        return "Unknown command.";
    default:
        return "Error.";
    }
}

void http_respond_code(struct conn *c, int code, const char *text)
{
    int status = code < 1000 ? code : code == 4000 ? 200 : code == 4029 ? 429 : 400;
    char body[256];
    int n = snprintf(body, sizeof body, "%d: %s", code, text ? text : http_code_text(code));
    if (status >= 400)
        c->srv->m.http_errors++;
    http_respond(c, status, "text/plain", NULL, body, (size_t)n);
}
