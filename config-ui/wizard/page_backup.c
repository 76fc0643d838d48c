/* /backup: download the whole configuration encrypted with a passphrase
 * (lib/backup.c), and restore one: the upload is opened and its contents
 * shown first (/backup/open), staged for this session, and restored only
 * when the admin confirms (/backup/restore). */
#include "appstate.h"
#include "backup.h"
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
#include <time.h>

struct backup_errors {
    char pass[256], again[256], file[256], general[600];
};

static void backup_page(struct wiz *w, const struct backup_errors *e, const struct result *res,
                        int status)
{
    char help[128];
    layout_begin(w, "Backup and restore");
    if (e->general[0])
        layout_notice("error", e->general);
    if (res)
        form_result(res);
    html_printf("<h2>Download a backup</h2>\n<p>One file with the settings, the signing keys, "
                "the certificate and its key, the admin's SSH keys and the SSH host keys, "
                "encrypted with a passphrase you choose. Keep the passphrase: without it the "
                "file cannot be opened.</p>\n");
    snprintf(help, sizeof(help), "At least %d characters.", BACKUP_PASSPHRASE_MIN);
    form_begin(w, "/backup/download", false);
    form_input("password", "passphrase", "Passphrase", NULL, help, e->pass);
    form_input("password", "passphrase2", "The same passphrase again", NULL, NULL, e->again);
    form_end("Download the backup");
    html_printf("<h2>Restore a backup</h2>\n<p>On a fresh appliance, or to go back to a saved "
                "state. You will see what the file holds before anything is changed.</p>\n");
    form_begin(w, "/backup/open", true);
    form_input("file", "backup", "Backup file", NULL, "A .pbk file downloaded from this page.",
               e->file);
    form_input("password", "passphrase", "Its passphrase", NULL, NULL, NULL);
    form_end("Open the backup");
    layout_end();
    reply_send(status);
}

static void backup_download(struct wiz *w)
{
    struct backup_errors e = {0};
    const char *p = cgi_form_get(&w->form, "passphrase");
    const char *p2 = cgi_form_get(&w->form, "passphrase2");
    if (!p || strlen(p) < BACKUP_PASSPHRASE_MIN) {
        snprintf(e.pass, sizeof(e.pass), "The passphrase needs at least %d characters.",
                 BACKUP_PASSPHRASE_MIN);
        backup_page(w, &e, NULL, 400);
        return;
    }
    if (!p2 || strcmp(p, p2) != 0) {
        snprintf(e.again, sizeof(e.again), "The two passphrases differ.");
        backup_page(w, &e, NULL, 400);
        return;
    }
    /* the apply service makes it: the TLS key and the SSH host keys are
     * not readable by www */
    unsigned char *data = NULL;
    size_t len;
    char err[600];
    int rc = backup_request(p, WIZ_APPLY_TIMEOUT, &data, &len, err, sizeof(err));
    if (rc != 0) {
        snprintf(e.general, sizeof(e.general), "The backup could not be made: %.560s", err);
        backup_page(w, &e, NULL, 500);
        return;
    }
    /* the host name passed the settings' RFC 1123 check: safe in a header */
    struct settings st;
    char name[400], day[16];
    time_t t = (time_t)w->now;
    strftime(day, sizeof(day), "%Y%m%d", gmtime(&t));
    if (appstate_load(&st, NULL, err, sizeof(err)) < 0)
        snprintf(st.v[S_HOSTNAME], sizeof(st.v[S_HOSTNAME]), "pullbox");
    snprintf(name, sizeof(name), "pullbox-backup-%.200s-%s.pbk", st.v[S_HOSTNAME], day);
    reply_download(name, "application/octet-stream", data, len);
    free(data);
}

/* What a bundle holds, in words; settings.conf is shown (it holds no
 * secret), the other files only by name and size. */
static void backup_contents(const struct request *r)
{
    html_printf("<table class=\"values\" id=\"backup-contents\">\n<thead><tr><th>File</th>"
                "<th>Size</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->nargs; i++)
        html_printf("<tr><td>%s</td><td>%zu bytes</td></tr>\n", r->args[i].key, r->args[i].len);
    html_printf("</tbody>\n</table>\n");
    size_t len;
    const char *settings = request_get(r, BK_SETTINGS, &len);
    if (settings) {
        html_printf("<h3>Its settings</h3>\n<pre class=\"code\" id=\"backup-settings\">");
        html_escape_n(settings, len);
        html_printf("</pre>\n");
    }
}

static void backup_open_upload(struct wiz *w)
{
    struct backup_errors e = {0};
    const struct cgi_field *f = cgi_form_field(&w->form, "backup");
    const char *p = cgi_form_get(&w->form, "passphrase");
    if (!f || f->len == 0) {
        snprintf(e.file, sizeof(e.file), "Choose a backup file.");
        backup_page(w, &e, NULL, 400);
        return;
    }
    if (f->len > BACKUP_MAX_BYTES) {
        snprintf(e.file, sizeof(e.file), "A backup is at most %d KiB; this file is larger.",
                 BACKUP_MAX_BYTES / 1024);
        backup_page(w, &e, NULL, 400);
        return;
    }
    struct request r;
    char err[256];
    request_init(&r, "");
    if (backup_open(p ? p : "", (const unsigned char *)f->value, f->len, &r, err, sizeof(err)) <
        0) {
        snprintf(e.file, sizeof(e.file), "%s", err);
        request_free(&r);
        backup_page(w, &e, NULL, 400);
        return;
    }
    int rc = stage_put(&w->sess, "restore", &r);
    layout_begin(w, "Backup and restore");
    html_printf("<h2>The backup holds</h2>\n");
    backup_contents(&r);
    request_free(&r);
    if (rc < 0) {
        layout_notice("error", "The backup could not be kept for restoring.");
    } else {
        html_printf("<p>Restoring replaces the settings, keys and certificate of this appliance "
                    "with these, and restarts what they feed.</p>\n");
        form_begin(w, "/backup/restore", false);
        form_end("Restore this backup");
    }
    html_printf("<p><a href=\"/backup\">Back</a></p>\n");
    layout_end();
    reply_send(200);
}

static void backup_restore(struct wiz *w)
{
    struct backup_errors e = {0};
    struct request r;
    struct result res;
    char err[512];
    if (stage_take(&w->sess, "restore", "restore", &r) < 0) {
        snprintf(e.general, sizeof(e.general), "No opened backup is waiting: open it again.");
        backup_page(w, &e, NULL, 400);
        return;
    }
    int rc = spool_call(&r, WIZ_APPLY_TIMEOUT, &res, err, sizeof(err));
    request_free(&r);
    if (rc < 0) {
        snprintf(e.general, sizeof(e.general), "%s", err);
        backup_page(w, &e, NULL, 503);
        return;
    }
    backup_page(w, &e, &res, 200);
}

void page_backup(struct wiz *w)
{
    struct backup_errors e = {0};
    const char *path = w->req.path;
    if (!w->post)
        backup_page(w, &e, NULL, 200);
    else if (strcmp(path, "/backup/download") == 0)
        backup_download(w);
    else if (strcmp(path, "/backup/open") == 0)
        backup_open_upload(w);
    else if (strcmp(path, "/backup/restore") == 0)
        backup_restore(w);
    else
        backup_page(w, &e, NULL, 200);
}
