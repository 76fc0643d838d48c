/* A message body as the `text` value of an NGINX text frame
 * (#!NGINXNMS!#{...,"text":<value>}#!NGINXNME!#). Clients find frames with
 * the regex /#!NGINXNMS!#(.*?)#!NGINXNME!#/ and JSON.parse what is between,
 * so the value written here never holds a '#' (no body can end or start a
 * frame), a raw newline (the regex would not match across it) or invalid
 * UTF-8 (a browser drops a WebSocket whose text frame has some), and is
 * either one JSON value or makes the whole frame fail to parse (no body can
 * add members to the frame). */
#ifndef PULLBOX_JSONTEXT_H
#define PULLBOX_JSONTEXT_H

#include "first.h"

#include "buf.h"

/* Whether p[0..n) is exactly one JSON value (RFC 8259, surrounding
 * whitespace allowed) whose strings are valid UTF-8; nesting deeper than
 * JSONTEXT_MAX_DEPTH counts as not. */
#define JSONTEXT_MAX_DEPTH 256
bool jsontext_valid(const uint8_t *p, size_t n);

/* Appends p[0..n) as a frame's text value. A valid JSON body is copied with
 * every '#' written \u0023 (it can only be inside a string) and CR/LF
 * (only whitespace there) as spaces: JSON.parse reads back the very same
 * value. Anything else, an empty body too, goes through
 * jsontext_append_unparsable. */
void jsontext_append_value(struct buf *b, const uint8_t *p, size_t n);

/* Appends p[0..n) as a JSON string that is never closed ('#' and control
 * characters as \u escapes, invalid UTF-8 as \ufffd): the frame around it
 * fails JSON.parse, so the client skips it, as it skips the frame Push
 * server 2.0 makes of a body that is not JSON (and as it skips such a body
 * in binary mode), while the bytes are still there to be found (the site
 * checker looks for its md5 string in the answer). */
void jsontext_append_unparsable(struct buf *b, const uint8_t *p, size_t n);

#endif
