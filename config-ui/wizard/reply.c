/* The buffered CGI answer (see reply.h). */
#include "reply.h"

#include "html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX_HEADERS 8

/* Sent with every answer, pages and downloads alike. lighttpd sets the same
 * on static files; here they hold wherever the CGI runs. */
static const char *const reply_security_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action "
     "'self'; frame-ancestors 'none'; base-uri 'none'"},
    {"X-Frame-Options", "DENY"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"Cache-Control", "no-store"},
};

static char *body;
static size_t body_len;
static FILE *body_file;
static char *headers[REPLY_MAX_HEADERS];
static size_t nheaders;
static void (*on_send)(void);

void reply_on_send(void (*fn)(void))
{
    on_send = fn;
}

void reply_begin(void)
{
    body_file = open_memstream(&body, &body_len);
    if (!body_file)
        abort();
    html_set_output(body_file);
}

void reply_header(const char *name, const char *value)
{
    if (nheaders >= REPLY_MAX_HEADERS || strpbrk(value, "\r\n"))
        return;
    size_t n = strlen(name) + strlen(value) + 3;
    char *h = malloc(n);
    if (!h)
        abort();
    snprintf(h, n, "%s: %s", name, value);
    headers[nheaders++] = h;
}

const char *reply_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static void send_head(int status, const char *type, size_t len)
{
    if (on_send) {
        void (*fn)(void) = on_send;
        on_send = NULL;
        fn();
    }
    printf("Status: %d %s\r\n", status, reply_status_text(status));
    for (size_t i = 0; i < sizeof(reply_security_headers) / sizeof(reply_security_headers[0]); i++)
        printf("%s: %s\r\n", reply_security_headers[i][0], reply_security_headers[i][1]);
    for (size_t i = 0; i < nheaders; i++) {
        printf("%s\r\n", headers[i]);
        free(headers[i]);
    }
    nheaders = 0;
    printf("Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", type, len);
}

void reply_send(int status)
{
    if (body_file) {
        fclose(body_file);
        body_file = NULL;
        html_set_output(NULL);
    }
    send_head(status, "text/html; charset=utf-8", body_len);
    if (body_len)
        fwrite(body, 1, body_len, stdout);
    fflush(stdout);
    free(body);
    body = NULL;
    body_len = 0;
}

void reply_redirect(const char *path)
{
    reply_header("Location", path);
    reply_send(303);
}

void reply_download(const char *filename, const char *type, const unsigned char *data,
                    size_t len)
{
    char cd[160];
    snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", filename);
    reply_header("Content-Disposition", cd);
    if (body_file) {
        fclose(body_file);
        body_file = NULL;
        html_set_output(NULL);
    }
    free(body);
    body = NULL;
    body_len = 0;
    send_head(200, type, len);
    fwrite(data, 1, len, stdout);
    fflush(stdout);
}
