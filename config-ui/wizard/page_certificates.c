/* /certificates: the certificate of ports 443 and 8894. Shows the one
 * installed; an upload of certificate, key and chain is checked first
 * (/certificates/check: errors block, warnings are shown) and staged for
 * this session, and installed only when the admin confirms it
 * (/certificates/install). Or a new self-signed one. */
#include "appstate.h"
#include "certcheck.h"
#include "form.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "settings.h"
#include "spool.h"
#include "stage.h"
#include "wizard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cert_parts[][2] = {
    {"certificate", "Certificate"},
    {"private-key", "Private key"},
    {"chain", "Chain (intermediate certificates)"},
};
#define CERT_NPARTS 3

static void report(const struct cert_report *rep, const char *heading)
{
    html_printf("<section class=\"cert\" aria-label=\"%s\">\n<h2>%s</h2>\n<dl>\n", heading,
                heading);
    html_printf("<dt>Subject</dt><dd>%s</dd>\n<dt>Issuer</dt><dd>%s%s</dd>\n", rep->subject,
                rep->issuer, rep->self_signed ? " (self-signed)" : "");
    html_printf("<dt>Names</dt><dd>%s</dd>\n<dt>Valid</dt><dd>from %s until %s</dd>\n", rep->names,
                rep->not_before, rep->not_after);
    html_printf("<dt>SHA-256 fingerprint</dt><dd class=\"fingerprint\">%s</dd>\n</dl>\n",
                rep->fingerprint);
    if (!rep->ok)
        layout_notice("error", rep->error);
    for (size_t i = 0; i < rep->nwarnings; i++)
        layout_notice("warn", rep->warnings[i]);
    html_printf("</section>\n");
}

static void upload_form(const struct wiz *w, const char *err)
{
    html_printf("<h2>Use your own certificate</h2>\n<p>PEM files as your certificate authority "
                "gave them. Nothing is installed before you have seen the check.</p>\n");
    if (err)
        layout_notice("error", err);
    form_begin(w, "/certificates/check", true);
    form_input("file", "certificate", "Certificate", NULL,
               "The server certificate (PEM, \"BEGIN CERTIFICATE\").", NULL);
    form_input("file", "private-key", "Private key", NULL,
               "Its private key (PEM, unencrypted).", NULL);
    form_input("file", "chain", "Chain", NULL,
               "Optional: the intermediate certificates, in order.", NULL);
    form_end("Check the certificate");
    html_printf("<h2>Self-signed</h2>\n<p>A new self-signed certificate for the public name. "
                "Browsers warn about it until you install one from a certificate "
                "authority.</p>\n");
    form_begin(w, "/certificates/self-signed", false);
    form_end("Make a new self-signed certificate");
}

static void cert_page(struct wiz *w, const char *err, const struct result *res, int status)
{
    struct settings st;
    struct cert_report rep;
    char lerr[256];
    layout_begin(w, "Certificates");
    if (res)
        form_result(res);
    if (appstate_load(&st, NULL, lerr, sizeof(lerr)) < 0) {
        layout_notice("error", lerr);
    } else {
        cert_check_installed(st.v[S_SITE_PUBLIC_NAME], w->now, &rep);
        report(&rep, "Installed certificate");
    }
    upload_form(w, err);
    layout_end();
    reply_send(status);
}

/* POST /certificates/check: the uploaded PEMs are checked and, when usable,
 * staged as the request that /certificates/install will send. */
static void cert_check_upload(struct wiz *w)
{
    const char *pem[CERT_NPARTS];
    char msg[300];
    for (int i = 0; i < CERT_NPARTS; i++) {
        const struct cgi_field *f = cgi_form_field(&w->form, cert_parts[i][0]);
        pem[i] = f ? f->value : "";
        if (f && (f->len > CERT_PEM_MAX || memchr(f->value, '\0', f->len))) {
            snprintf(msg, sizeof(msg), "%s: not a PEM file of at most %d KiB.", cert_parts[i][1],
                     CERT_PEM_MAX / 1024);
            cert_page(w, msg, NULL, 400);
            return;
        }
    }
    if (!*pem[0] || !*pem[1]) {
        cert_page(w, "Choose a certificate and its private key.", NULL, 400);
        return;
    }
    struct settings st;
    struct cert_report rep;
    if (appstate_load(&st, NULL, msg, sizeof(msg)) < 0) {
        cert_page(w, msg, NULL, 500);
        return;
    }
    cert_check(pem[0], pem[1], pem[2], st.v[S_SITE_PUBLIC_NAME], w->now, &rep);

    layout_begin(w, "Certificates");
    report(&rep, "The uploaded certificate");
    if (rep.ok) {
        struct request rq;
        request_init(&rq, "cert-upload");
        for (int i = 0; i < CERT_NPARTS; i++)
            if (*pem[i]) /* no chain: no "chain" argument */
                request_add(&rq, cert_parts[i][0], pem[i], strlen(pem[i]));
        int rc = stage_put(&w->sess, "cert", &rq);
        request_free(&rq);
        if (rc < 0) {
            layout_notice("error", "The upload could not be kept for installing.");
        } else {
            html_printf("<p>The certificate is usable. Installing it restarts the web server: "
                        "reload this page after a few seconds.</p>\n");
            form_begin(w, "/certificates/install", false);
            form_end("Install this certificate");
        }
    } else {
        html_printf("<p>This certificate cannot be installed. Nothing was changed.</p>\n");
    }
    html_printf("<p><a href=\"/certificates\">Back to the certificates</a></p>\n");
    layout_end();
    reply_send(rep.ok ? 200 : 400);
}

static void cert_send(struct wiz *w, struct request *rq)
{
    struct result res;
    char err[512];
    if (spool_call(rq, WIZ_APPLY_TIMEOUT, &res, err, sizeof(err)) < 0)
        cert_page(w, err, NULL, 503);
    else
        cert_page(w, NULL, &res, 200);
}

void page_certificates(struct wiz *w)
{
    const char *path = w->req.path;
    if (!w->post) {
        if (strcmp(path, "/certificates") != 0)
            reply_redirect("/certificates");
        else
            cert_page(w, NULL, NULL, 200);
        return;
    }
    if (strcmp(path, "/certificates/check") == 0) {
        cert_check_upload(w);
    } else if (strcmp(path, "/certificates/install") == 0) {
        struct request rq;
        if (stage_take(&w->sess, "cert", "cert-upload", &rq) < 0) {
            cert_page(w, "No checked certificate is waiting: upload it again.", NULL, 400);
            return;
        }
        cert_send(w, &rq);
        request_free(&rq);
    } else if (strcmp(path, "/certificates/self-signed") == 0) {
        struct request rq;
        request_init(&rq, "cert-self-signed");
        cert_send(w, &rq);
        request_free(&rq);
    } else {
        cert_page(w, NULL, NULL, 200);
    }
}
