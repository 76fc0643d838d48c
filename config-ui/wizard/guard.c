/* Same-origin and CSRF checks (see guard.h). */
#include "guard.h"

#include "formtoken.h"

#include <stdio.h>
#include <string.h>

/* Called for every POST. With "Referrer-Policy: no-referrer" a browser
 * sends "Origin: null" on a same-site form POST, so "null" is judged by
 * Sec-Fetch-Site, which every current browser sends and no page can forge.
 * A request with neither header does not come from a browser: a CSRF
 * attack needs one, but refusing keeps the rule simple to state. */
bool guard_same_origin(const struct cgi_req *r, char *err, size_t errlen)
{
    char self[300];
    snprintf(self, sizeof(self), "%s://%s", r->https ? "https" : "http", r->host);
    if (r->origin && strcmp(r->origin, "null") != 0) {
        if (strcmp(r->origin, self) == 0)
            return true;
        snprintf(err, errlen, "the form was sent from another site (%s), not from %s", r->origin,
                 self);
        return false;
    }
    if (r->fetch_site) {
        if (strcmp(r->fetch_site, "same-origin") == 0)
            return true;
        snprintf(err, errlen, "the form was sent from another site (Sec-Fetch-Site: %s)",
                 r->fetch_site);
        return false;
    }
    if (r->referer) {
        size_t n = strlen(self);
        if (strncmp(r->referer, self, n) == 0 && r->referer[n] == '/')
            return true;
        snprintf(err, errlen, "the form was sent from another page than this site's");
        return false;
    }
    snprintf(err, errlen, "the request does not say where it comes from (no Origin header)");
    return false;
}

bool guard_csrf(const struct wiz *w, char *err, size_t errlen)
{
    const char *token = cgi_form_get(&w->form, "csrf");
    if (!token || !*token) {
        snprintf(err, errlen, "the form has no security token: reload the page and send it again");
        return false;
    }
    /* a session's own token, or, before login, the form's stateless one */
    bool good = w->sess.hash[0] ? session_csrf_ok(&w->sess, token)
                                : formtoken_ok(w->req.path + 1, w->req.remote_addr, w->now, token);
    if (!good) {
        snprintf(err, errlen,
                 "the form's security token is wrong or your session has expired: reload the "
                 "page and send it again");
        return false;
    }
    return true;
}
