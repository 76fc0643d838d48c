/* The one way the wizard writes HTML: html_printf(), whose format string
 * is the page's own markup (a literal in the source) and whose every %s
 * argument is escaped, so text that came from a request, a file or the
 * apply service can never become markup. Numbers need no escaping. There
 * is no "raw" conversion on purpose: markup only ever comes from a format
 * literal. */
#ifndef PULLBOX_WIZARD_HTML_H
#define PULLBOX_WIZARD_HTML_H

#include <stddef.h>
#include <stdio.h>

/* Where html_printf writes (the reply's body buffer; stdout by default). */
void html_set_output(FILE *out);

/* Writes fmt with its conversions: %s (escaped: & < > " '), %d %u %ld %lu
 * %lld %llu %zu, %c (escaped), %%. Any other conversion is a programming
 * error and aborts, so a new one cannot slip in unescaped. */
__attribute__((format(printf, 1, 2))) void html_printf(const char *fmt, ...);

/* Writes the len bytes of s escaped (for values with a length, such as an
 * uploaded file shown back). */
void html_escape_n(const char *s, size_t len);

#endif
