/* The frame around every page: head, the left navigation with the current
 * page marked, the title, and the end. Also the complete error page. */
#ifndef PULLBOX_WIZARD_LAYOUT_H
#define PULLBOX_WIZARD_LAYOUT_H

#include "wizard.h"

/* Starts a page. With the navigation when the admin is logged in. */
void layout_begin(const struct wiz *w, const char *title);
void layout_end(void);

/* A box of text: kind is "ok", "warn" or "error". */
void layout_notice(const char *kind, const char *text);

/* A whole page that says what went wrong, sent with status. */
void layout_error_page(const struct wiz *w, int status, const char *title, const char *text);

#endif
