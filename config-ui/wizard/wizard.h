/* What every page of the wizard is handed: the request, its decoded form,
 * the session, and the clock. One page_*.c per page; main.c routes a path
 * to its page after the claim, login, Origin and CSRF checks, so a page
 * only ever sees a POST that passed them. */
#ifndef PULLBOX_WIZARD_H
#define PULLBOX_WIZARD_H

#include "cgi.h"
#include "session.h"

#include <stdbool.h>

#define WIZ_APPLY_TIMEOUT 60.0 /* seconds to wait for the apply service */

struct wiz {
    struct cgi_req req;
    struct cgi_form form; /* the POST body, or the query string of a GET */
    struct session sess;
    char pwtag[SESSION_ID_HEX + 1]; /* of the admin password now (session_password_tag) */
    bool post;
    long long now;
};

typedef void page_fn(struct wiz *w);

/* Replaces the request's session with a new, logged-in one for the
 * password tagged w->pwtag (login, claim) and sends its cookie with the
 * answer. 0 or -1. */
int wiz_session_renew(struct wiz *w);

/* Called by the login and claim before a password or setup code is
 * checked: records the attempt (ratelimit.h) and returns true, or refuses
 * it: then msg says why in words naming `what` ("wrong passwords"), *status
 * is 429 (or 503) and the Retry-After header is set. */
bool wiz_attempt_allowed(struct wiz *w, const char *what, char *msg, size_t msglen, int *status);

/* The pages (page_<name>.c); each answers GET and, where it has a form,
 * POST. */
page_fn page_claim, page_login, page_logout, page_network, page_network_confirm, page_site,
    page_certificates, page_keys, page_firewall, page_bitrix, page_selftest, page_status,
    page_backup, page_cluster, page_ssh, page_update;

/* True for the update page's upload, whose body main.c leaves unread:
 * the page streams it (upload.h) and checks its CSRF token itself. */
bool page_update_streams(const struct wiz *w);

#endif
