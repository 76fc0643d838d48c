/* The update page's upload: a multipart/form-data body far larger than the
 * wizard's 1 MiB forms, streamed from stdin to a file in a folder of the
 * CGI's own user, never held in memory whole. The form's first part must
 * be its CSRF token (form_begin puts it first, and browsers send fields in
 * order): the token is checked before one byte of the file is written. */
#ifndef PULLBOX_WIZARD_UPLOAD_H
#define PULLBOX_WIZARD_UPLOAD_H

#include "wizard.h"

#include <stddef.h>
#include <stdio.h>

/* Streams the body of w's request from in: the token part, then one file
 * part, written to dir/<tmp> and renamed to dir/name once the whole body
 * arrived. At most max bytes of body; refused before anything is read when
 * CONTENT_LENGTH is larger or the folder's file system would keep less
 * than reserve bytes free.
 * Returns 0 (*size: the file's bytes), or an HTTP status with msg in words
 * (413 too large, 507 no room, 403 bad token, 400 malformed or truncated,
 * 500 cannot write); nothing is left behind then. */
int upload_stream(const struct wiz *w, FILE *in, const char *dir, const char *name,
                  unsigned long long max, unsigned long long reserve, unsigned long long *size,
                  char *msg, size_t msglen);

#endif
