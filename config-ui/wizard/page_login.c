/* /login and /logout, once the appliance is claimed: the admin password
 * against the hash in the secrets, rate-limited per client address. */
#include "appstate.h"
#include "form.h"
#include "html.h"
#include "layout.h"
#include "passwd.h"
#include "ratelimit.h"
#include "reply.h"
#include "secrets.h"
#include "wizard.h"

#include <stdio.h>
#include <string.h>

static void login_form(const struct wiz *w, const char *general, const char *pw_err, int status)
{
    layout_begin(w, "Log in");
    if (general)
        layout_notice("error", general);
    form_begin(w, "/login", false);
    form_input("password", "password", "Admin password", NULL,
               "The password chosen when the appliance was claimed.", pw_err);
    form_end("Log in");
    layout_end();
    reply_send(status);
}

void page_login(struct wiz *w)
{
    if (!w->post) {
        login_form(w, NULL, NULL, 200);
        return;
    }
    long wait;
    char msg[320];
    if (!ratelimit_allowed(w->req.remote_addr, w->now, &wait)) {
        char retry[32];
        snprintf(msg, sizeof(msg),
                 "Too many wrong passwords from your address: try again in %ld s.", wait);
        snprintf(retry, sizeof(retry), "%ld", wait);
        reply_header("Retry-After", retry);
        login_form(w, msg, NULL, 429);
        return;
    }
    struct secrets sec;
    char err[256];
    if (appstate_load(NULL, &sec, err, sizeof(err)) < 0) {
        snprintf(msg, sizeof(msg), "The secrets could not be read: %s", err);
        login_form(w, msg, NULL, 500);
        return;
    }
    const char *pw = cgi_form_get(&w->form, "password");
    bool good = pw && passwd_verify(pw, sec.admin_password_hash);
    memset(&sec, 0, sizeof(sec));
    if (!good) {
        ratelimit_failed(w->req.remote_addr, w->now);
        login_form(w, NULL, "Wrong password.", 403);
        return;
    }
    ratelimit_clear(w->req.remote_addr);
    if (wiz_session_renew(w, true) < 0) {
        login_form(w, "The session could not be stored: is the data partition full?", NULL, 500);
        return;
    }
    reply_redirect("/network");
}

void page_logout(struct wiz *w)
{
    char cookie[160];
    if (!w->post) {
        reply_redirect("/network");
        return;
    }
    session_destroy(&w->sess);
    session_cookie(NULL, cookie, sizeof(cookie));
    reply_header("Set-Cookie", cookie);
    reply_redirect("/login");
}
