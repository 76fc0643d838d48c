/* The CGI request as lighttpd's mod_cgi hands it over: the environment
 * (RFC 3875 meta-variables), a body on stdin of CONTENT_LENGTH bytes, and
 * its decoding (application/x-www-form-urlencoded, multipart/form-data).
 * Every size is capped before anything is read or allocated, so a hostile
 * client costs at most CGI_BODY_MAX bytes of memory. */
#ifndef PULLBOX_WIZARD_CGI_H
#define PULLBOX_WIZARD_CGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CGI_BODY_MAX (1024 * 1024) /* lighttpd's server.max-request-size says the same */
#define CGI_FILE_MAX (256 * 1024)  /* one uploaded file: a PEM (64 KiB) or a backup (256 KiB) */
#define CGI_MAX_FIELDS 64
#define CGI_NAME_MAX 64
#define CGI_FILENAME_MAX 128

struct cgi_field {
    char name[CGI_NAME_MAX];
    char *value; /* malloc'ed, NUL-terminated; a text field never holds a NUL
                  * inside (refused), a file may (a backup is binary): use len */
    size_t len;
    bool is_file;                       /* a multipart part with a filename */
    char filename[CGI_FILENAME_MAX];    /* shown to the admin only, never used as a path */
};

struct cgi_form {
    struct cgi_field f[CGI_MAX_FIELDS];
    size_t n;
    char err[160]; /* why decoding refused the body, in words */
};

struct cgi_req {
    const char *method;       /* "GET", "POST", ... ("GET" if unset) */
    const char *path;         /* PATH_INFO, or the path of REQUEST_URI: "/network" */
    const char *query;        /* QUERY_STRING or "" */
    const char *content_type; /* "" if none */
    long long content_length; /* -1 if missing or not a number */
    const char *remote_addr;
    const char *server_addr;
    const char *host;         /* HTTP_HOST */
    const char *origin;       /* HTTP_ORIGIN, NULL if absent */
    const char *referer;      /* HTTP_REFERER, NULL if absent */
    const char *fetch_site;   /* HTTP_SEC_FETCH_SITE, NULL if absent */
    const char *cookie;       /* HTTP_COOKIE, NULL if absent */
    bool https;
    char path_buf[256];
};

/* Fills r from the environment (pointers into environ or r->path_buf). */
void cgi_req_from_env(struct cgi_req *r);

/* Reads the body of r from in into *body (malloc'ed, NUL-terminated).
 * Returns 0, 413 when CONTENT_LENGTH is above max (nothing read), 411 when
 * a POST has no usable CONTENT_LENGTH, 400 when the body is short. */
int cgi_body_read(const struct cgi_req *r, FILE *in, size_t max, char **body, size_t *len);

/* Decodes an application/x-www-form-urlencoded body or query string into f
 * (appending). Returns 0, or -1 with f->err: too many fields, a name too
 * long, a bad %-escape, a NUL byte. */
int cgi_form_decode(const char *data, size_t len, struct cgi_form *f);

/* Decodes a multipart/form-data body; content_type carries the boundary.
 * Text fields and files are both capped at CGI_FILE_MAX bytes; a filename
 * with a folder in it ('/', '\\', "..") or control characters is refused.
 * Returns 0 or -1 with f->err. */
int cgi_multipart_decode(const char *data, size_t len, const char *content_type,
                         struct cgi_form *f);

/* Decodes the body of r whatever its type. 0 or -1 with f->err. */
int cgi_form_from_body(const struct cgi_req *r, const char *body, size_t len, struct cgi_form *f);

/* The value of the first field called name, or NULL. */
const char *cgi_form_get(const struct cgi_form *f, const char *name);
/* The same with its length; NULL if absent. */
const struct cgi_field *cgi_form_field(const struct cgi_form *f, const char *name);
void cgi_form_free(struct cgi_form *f);

/* The value of cookie name in a Cookie header into out. true if found and
 * it fits. */
bool cgi_cookie_get(const char *header, const char *name, char *out, size_t outlen);

#endif
