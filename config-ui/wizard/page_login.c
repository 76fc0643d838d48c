/* /login and /logout, once the appliance is claimed: the admin password
 * against the hash in the secrets, within the login limits (ratelimit.h)
 * and the bound on hashes computed at once (hashslot.h). */
#include "appstate.h"
#include "form.h"
#include "hashslot.h"
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

bool wiz_attempt_allowed(struct wiz *w, const char *what, char *msg, size_t msglen, int *status)
{
    long wait;
    char retry[32];
    enum ratelimit_verdict v = ratelimit_begin(w->req.remote_addr, w->now, &wait);
    if (v == RATELIMIT_GO)
        return true;
    snprintf(retry, sizeof(retry), "%ld", wait);
    reply_header("Retry-After", retry);
    *status = 429;
    if (v == RATELIMIT_CLIENT)
        snprintf(msg, msglen, "Too many %s from your address: try again in %ld s.", what, wait);
    else if (v == RATELIMIT_GLOBAL)
        snprintf(msg, msglen,
                 "Too many %s from all addresses together: the wizard slows down; try again "
                 "in %ld s.",
                 what, wait);
    else {
        snprintf(msg, msglen,
                 "The attempt could not be recorded (the wizard's state folder): try again "
                 "later.");
        *status = 503;
    }
    return false;
}

void page_login(struct wiz *w)
{
    if (!w->post) {
        login_form(w, NULL, NULL, 200);
        return;
    }
    char msg[320];
    int status;
    if (!wiz_attempt_allowed(w, "wrong passwords", msg, sizeof(msg), &status)) {
        login_form(w, msg, NULL, status);
        return;
    }
    struct secrets sec;
    char err[256];
    if (appstate_load(NULL, &sec, err, sizeof(err)) < 0) {
        snprintf(msg, sizeof(msg), "The secrets could not be read: %s", err);
        login_form(w, msg, NULL, 500);
        return;
    }
    int slot = hashslot_acquire(HASHSLOT_WAIT_MS);
    if (slot < 0) {
        memset(&sec, 0, sizeof(sec));
        reply_header("Retry-After", "5");
        login_form(w,
                   "The appliance is busy checking other passwords: try again in a few "
                   "seconds.",
                   NULL, 503);
        return;
    }
    const char *pw = cgi_form_get(&w->form, "password");
    bool good = pw && passwd_verify(pw, sec.admin_password_hash);
    hashslot_release(slot);
    memset(&sec, 0, sizeof(sec));
    if (!good) {
        login_form(w, NULL, "Wrong password.", 403);
        return;
    }
    ratelimit_clear(w->req.remote_addr);
    if (wiz_session_renew(w) < 0) {
        login_form(w, "The session could not be stored: is the wizard's state folder full?", NULL,
                   500);
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
