/* The CGI answer: a status, headers and a body collected in memory and
 * written once at the end, so a page can still decide on a cookie or a
 * redirect after it has started its HTML. Every answer carries the same
 * security headers (CSP, frame, sniffing, referrer, caching). */
#ifndef PULLBOX_WIZARD_REPLY_H
#define PULLBOX_WIZARD_REPLY_H

#include <stddef.h>

/* Starts collecting: html_printf writes into the reply's body from now on. */
void reply_begin(void);

/* Adds a header line ("Set-Cookie", "...") to the answer. name and value
 * are copied; a value with CR or LF is dropped (header injection). */
void reply_header(const char *name, const char *value);

/* fn runs once, just before the first byte of the answer is written: the
 * last moment to save state, since lighttpd may end the CGI (SIGTERM) as
 * soon as it has the whole answer. */
void reply_on_send(void (*fn)(void));

/* Writes status, headers and the collected HTML body to stdout. */
void reply_send(int status);

/* 303 See Other to a local path (always starting with '/'). */
void reply_redirect(const char *path);

/* Sends len bytes as a download (Content-Disposition attachment with
 * filename, which the caller built from safe characters). */
void reply_download(const char *filename, const char *type, const unsigned char *data,
                    size_t len);

/* The text for a status code ("Not Found"). */
const char *reply_status_text(int status);

#endif
