/* pullbox-wizard.cgi: the web setup wizard, one process per request under
 * lighttpd's mod_cgi, as the unprivileged user www. It reads the request,
 * decides who may see what (claim first, then login), checks every POST's
 * origin and CSRF token, and hands the request to its page. It changes
 * nothing itself: pages send requests to the root-owned apply service. */
#include "appstate.h"
#include "formtoken.h"
#include "guard.h"
#include "layout.h"
#include "reply.h"
#include "root.h"
#include "secrets.h"
#include "wizard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct route {
    const char *path;
    page_fn *page;
};

/* Pages reachable once logged in. /claim and /login are handled before. */
static const struct route routes[] = {
    {"/network", page_network},
    {"/network/confirm", page_network_confirm},
    {"/site", page_site},
    {"/certificates", page_certificates},
    {"/certificates/check", page_certificates},
    {"/certificates/install", page_certificates},
    {"/certificates/self-signed", page_certificates},
    {"/keys", page_keys},
    {"/firewall", page_firewall},
    {"/ssh", page_ssh},
    {"/cluster", page_cluster},
    {"/bitrix", page_bitrix},
    {"/selftest", page_selftest},
    {"/status", page_status},
    {"/backup", page_backup},
    {"/backup/download", page_backup},
    {"/backup/open", page_backup},
    {"/backup/restore", page_backup},
    {"/update", page_update},
    {"/update/upload", page_update},
    {"/update/install", page_update},
    {"/update/reboot", page_update},
    {"/logout", page_logout},
};

static bool appliance_claimed(void)
{
    char path[512];
    return root_path(path, sizeof(path), PATH_CLAIMED) == 0 && access(path, F_OK) == 0;
}

int wiz_session_renew(struct wiz *w)
{
    char cookie[256];
    session_destroy(&w->sess);
    if (session_create(&w->sess, w->pwtag, w->now) < 0)
        return -1;
    session_cookie(&w->sess, cookie, sizeof(cookie));
    reply_header("Set-Cookie", cookie);
    w->sess.set_cookie = false;
    return 0;
}

/* Reads and decodes the body of a POST, or the query of a GET. Answers
 * the request itself and returns false when the body is refused. */
static bool read_form(struct wiz *w)
{
    if (!w->post) {
        /* a malformed query is ignored: GET changes nothing */
        if (cgi_form_decode(w->req.query, strlen(w->req.query), &w->form) < 0)
            cgi_form_free(&w->form);
        return true;
    }
    char *body;
    size_t len;
    int rc = cgi_body_read(&w->req, stdin, CGI_BODY_MAX, &body, &len);
    if (rc == 413) {
        layout_error_page(w, 413, "Upload too large",
                          "The request is larger than 1 MiB and was refused without being "
                          "stored. Certificates and backups are far smaller: check the file.");
        return false;
    }
    if (rc != 0) {
        layout_error_page(w, rc, "Bad request", "The request's body is missing or incomplete.");
        return false;
    }
    rc = cgi_form_from_body(&w->req, body, len, &w->form);
    free(body);
    if (rc < 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "The form was refused: %s. Nothing was changed.", w->form.err);
        layout_error_page(w, 400, "Form refused", msg);
        return false;
    }
    return true;
}

/* Origin and CSRF, for every POST, before any page sees it (a streamed
 * upload's token is in its body: its page checks it before storing). */
static bool post_allowed(struct wiz *w)
{
    char err[300], msg[400];
    bool ok = guard_same_origin(&w->req, err, sizeof(err));
    if (ok && !page_update_streams(w))
        ok = guard_csrf(w, err, sizeof(err));
    if (!ok) {
        snprintf(msg, sizeof(msg), "Refused: %s. Nothing was changed.", err);
        layout_error_page(w, 403, "Request refused", msg);
        return false;
    }
    return true;
}

static void dispatch(struct wiz *w)
{
    const char *path = w->req.path;
    bool claimed = appliance_claimed();

    if (!claimed) {
        /* nothing but the claim until the appliance has an admin */
        if (strcmp(path, "/claim") != 0) {
            reply_redirect("/claim");
            return;
        }
    } else if (strcmp(path, "/claim") == 0) {
        reply_redirect(w->sess.authed ? "/" : "/login");
        return;
    } else if (!w->sess.authed && strcmp(path, "/login") != 0) {
        reply_redirect("/login");
        return;
    }

    /* without a session only /claim and /login get here: their forms carry
     * a stateless token, so showing them stores nothing */
    if (!w->sess.hash[0] &&
        formtoken_make(path + 1, w->req.remote_addr, w->now, w->sess.csrf) < 0) {
        layout_error_page(w, 500, "Internal error",
                          "The wizard could not read or make its form key (is its state folder "
                          "writable?).");
        return;
    }
    if (w->post && !post_allowed(w))
        return;
    if (strcmp(path, "/claim") == 0) {
        page_claim(w);
        return;
    }
    if (strcmp(path, "/login") == 0) {
        if (w->sess.authed)
            reply_redirect("/");
        else
            page_login(w);
        return;
    }
    if (strcmp(path, "/") == 0) {
        reply_redirect("/network");
        return;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(path, routes[i].path) == 0) {
            routes[i].page(w);
            return;
        }
    layout_error_page(w, 404, "Not found", "There is no such page in the wizard.");
}

/* The tag of the admin password now: a session opened with another one
 * (before a password change) is no longer valid. */
static void password_tag(char out[SESSION_ID_HEX + 1])
{
    static struct secrets sec;
    char err[256];
    out[0] = '\0';
    if (appstate_load(NULL, &sec, err, sizeof(err)) == 0)
        session_password_tag(sec.admin_password_hash, out);
    memset(&sec, 0, sizeof(sec));
}

static struct wiz w; /* large (forms, settings): not on the stack */

/* The idle clock restarts: saved before the answer goes out (reply_on_send);
 * a logged-out session has no hash left and is not saved. */
static void save_session(void)
{
    if (w.sess.hash[0])
        session_save(&w.sess, w.now);
}

int main(void)
{
    w.now = (long long)time(NULL);
    cgi_req_from_env(&w.req);
    w.post = strcmp(w.req.method, "POST") == 0;
    reply_begin();
    if (!w.post && strcmp(w.req.method, "GET") != 0 && strcmp(w.req.method, "HEAD") != 0) {
        reply_header("Allow", "GET, POST");
        layout_error_page(&w, 405, "Method not allowed", "The wizard answers GET and POST only.");
        return 0;
    }
    password_tag(w.pwtag);
    session_load(w.req.cookie, w.pwtag, w.now, &w.sess);
    reply_on_send(save_session);
    if (page_update_streams(&w) || read_form(&w))
        dispatch(&w);
    cgi_form_free(&w.form);
    return 0;
}
