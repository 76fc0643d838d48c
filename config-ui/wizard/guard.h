/* The checks every state-changing request passes before a page sees it:
 * the browser says the form came from this site (Origin, or Sec-Fetch-Site
 * and Referer where the referrer policy made Origin "null"), and the form
 * carries the session's CSRF token. */
#ifndef PULLBOX_WIZARD_GUARD_H
#define PULLBOX_WIZARD_GUARD_H

#include "wizard.h"

#include <stddef.h>

/* true if the request comes from a page of this site; otherwise why not in
 * err. */
bool guard_same_origin(const struct cgi_req *r, char *err, size_t errlen);

/* true if the form's csrf field matches the session's token, or, for a
 * request without a session (the login and claim forms), is a valid
 * stateless token of that form (formtoken.h). */
bool guard_csrf(const struct wiz *w, char *err, size_t errlen);

#endif
