/* /claim: the first page of a new appliance. The one-time setup code shown
 * on the appliance's console proves the admin has the console; then the
 * new admin password, twice. Until this is done every other URL redirects
 * here (main.c). */
#include "fileio.h"
#include "form.h"
#include "hashslot.h"
#include "html.h"
#include "layout.h"
#include "passwd.h"
#include "ratelimit.h"
#include "reply.h"
#include "root.h"
#include "spool.h"
#include "token.h"
#include "wizard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct claim_errors {
    char code[256];
    char password[256];
    char again[256];
    char general[600];
};

static void claim_form(const struct wiz *w, const struct claim_errors *e, int status)
{
    layout_begin(w, "Claim this appliance");
    html_printf("<p>Welcome. Type the <strong>setup code</strong> shown on the appliance's "
                "console (the screen of the virtual machine), then choose the password of the "
                "<code>admin</code> account. It protects this wizard, the console and SSH.</p>\n");
    if (e->general[0])
        layout_notice("error", e->general);
    form_begin(w, "/claim", false);
    form_input("text", "setup-code", "Setup code", "",
               "Shown on the console under \"Setup code\"; letters and digits.", e->code);
    char help[160];
    snprintf(help, sizeof(help), "%d to %d characters; a passphrase of several words is best.",
             PASSWORD_MIN, PASSWORD_MAX);
    form_input("password", "password", "New admin password", NULL, help, e->password);
    form_input("password", "password2", "The same password again", NULL, NULL, e->again);
    form_end("Claim the appliance");
    layout_end();
    reply_send(status);
}

/* The code as first boot wrote it, without surrounding blanks. */
static int read_setup_code(char *out, size_t outlen)
{
    char path[512], err[256], *text = NULL;
    if (root_path(path, sizeof(path), PATH_SETUP_CODE) < 0 ||
        file_read_all(path, 256, &text, err, sizeof(err)) < 0)
        return -1;
    char *s = text;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strcspn(s, " \t\r\n");
    int rc = n > 0 && n < outlen ? 0 : -1;
    if (rc == 0)
        snprintf(out, outlen, "%.*s", (int)n, s);
    free(text);
    return rc;
}

/* The code may be typed in either case and with blanks or dashes between
 * groups, as it is read off a console. */
static void normalize_code(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *in && o + 1 < outlen; in++) {
        if (*in == ' ' || *in == '-' || *in == '\t')
            continue;
        out[o++] = (*in >= 'a' && *in <= 'z') ? (char)(*in - 'a' + 'A') : *in;
    }
    out[o] = '\0';
}

void page_claim(struct wiz *w)
{
    struct claim_errors e = {0};
    if (!w->post) {
        claim_form(w, &e, 200);
        return;
    }
    int status;
    if (!wiz_attempt_allowed(w, "wrong attempts", e.general, sizeof(e.general), &status)) {
        claim_form(w, &e, status);
        return;
    }
    const char *code = cgi_form_get(&w->form, "setup-code");
    const char *pw = cgi_form_get(&w->form, "password");
    const char *pw2 = cgi_form_get(&w->form, "password2");
    char want[128], typed[128], want_n[128];
    if (read_setup_code(want, sizeof(want)) < 0) {
        snprintf(e.general, sizeof(e.general),
                 "The appliance has no setup code (%s is missing): restart it so that first boot "
                 "makes one.",
                 PATH_SETUP_CODE);
        claim_form(w, &e, 500);
        return;
    }
    normalize_code(code ? code : "", typed, sizeof(typed));
    normalize_code(want, want_n, sizeof(want_n));
    if (!token_equal(typed, want_n)) {
        snprintf(e.code, sizeof(e.code),
                 "This is not the setup code shown on the appliance's console.");
        claim_form(w, &e, 403);
        return;
    }
    char perr[256];
    if (!pw || passwd_check_policy(pw, perr, sizeof(perr)) < 0) {
        snprintf(e.password, sizeof(e.password), "%s", pw ? perr : "A password is needed.");
        claim_form(w, &e, 400);
        return;
    }
    if (!pw2 || strcmp(pw, pw2) != 0) {
        snprintf(e.again, sizeof(e.again), "The two passwords differ: type the same one twice.");
        claim_form(w, &e, 400);
        return;
    }
    char hash[256];
    int slot = hashslot_acquire(HASHSLOT_WAIT_MS);
    int hashed = slot >= 0 ? passwd_hash(pw, hash, sizeof(hash)) : -1;
    hashslot_release(slot);
    if (hashed < 0) {
        snprintf(e.general, sizeof(e.general), "%s",
                 slot < 0 ? "The appliance is busy checking other passwords: send the form "
                            "again in a few seconds."
                          : "The password could not be hashed.");
        claim_form(w, &e, slot < 0 ? 503 : 500);
        return;
    }
    struct request rq;
    struct result res;
    char err[512];
    request_init(&rq, "claim");
    request_add(&rq, "admin-password-hash", hash, strlen(hash));
    int rc = spool_call(&rq, WIZ_APPLY_TIMEOUT, &res, err, sizeof(err));
    request_free(&rq);
    if (rc < 0 || !res.ok) {
        snprintf(e.general, sizeof(e.general), "The appliance was not claimed: %s",
                 rc < 0 ? err : res.message);
        claim_form(w, &e, 503);
        return;
    }
    ratelimit_clear(w->req.remote_addr);
    session_password_tag(hash, w->pwtag); /* the session belongs to the new password */
    if (wiz_session_renew(w) < 0) {
        reply_redirect("/login");
        return;
    }
    reply_redirect("/network");
}
