/* /update: the running system and the other slot (pullbox-update status,
 * asked of the apply service: the CGI has no right to run it), an upload
 * form for a bundle, then Install (a downgrade only after a separate
 * confirmation) and Reboot to try it. The upload is streamed to the
 * wizard's own folder on /data (upload.h); root opens it from there
 * itself, by a fixed name, and verifies it before installing anything. */
#include "form.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "root.h"
#include "spool.h"
#include "update.h"
#include "upload.h"
#include "wizard.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATUS_TIMEOUT 15.0
#define INSTALL_TIMEOUT 900.0 /* lighttpd waits as long for /update/install */
/* multipart framing and the token around the file */
#define UPLOAD_OVERHEAD (64 * 1024)

static void upload_path(char *out, size_t size, const char *name)
{
    char dir[512];
    root_path(dir, sizeof(dir), PATH_UPDATE_UPLOAD);
    snprintf(out, size, "%s%s%s", dir, name ? "/" : "", name ? name : "");
}

static void show_status(void)
{
    struct request rq;
    struct result res;
    char err[512];
    request_init(&rq, "update-status");
    int rc = spool_call(&rq, STATUS_TIMEOUT, &res, err, sizeof(err));
    request_free(&rq);
    if (rc != 0 || !res.ok) {
        html_printf("<dl class=\"facts\" id=\"update-status\">\n<dt>Running version</dt>"
                    "<dd id=\"running-version\">%s</dd>\n</dl>\n",
                    PULLBOX_VERSION);
        layout_notice("warn", rc != 0 ? err : res.message);
        return;
    }
    const char *other = update_result_step(&res, "other-version");
    html_printf("<dl class=\"facts\" id=\"update-status\">\n"
                "<dt>Running version</dt><dd id=\"running-version\">%s</dd>\n"
                "<dt>Slot</dt><dd id=\"slot\">%s</dd>\n"
                "<dt>Other slot</dt><dd id=\"other-slot\">%s: %s</dd>\n"
                "<dt>State</dt><dd id=\"state\">%s (%s)</dd>\n"
                "<dt>Last update</dt><dd id=\"update-message\">%s</dd>\n</dl>\n",
                update_result_step(&res, "version"), update_result_step(&res, "slot"),
                update_result_step(&res, "other-slot"), other[0] ? other : "empty",
                update_result_step(&res, "state"),
                update_state_words(update_result_step(&res, "state")),
                update_result_step(&res, "message"));
}

/* The stored upload's size and time, or false when there is none. */
static bool stored_upload(struct stat *st)
{
    char path[600];
    upload_path(path, sizeof(path), UPDATE_UPLOAD_NAME);
    return lstat(path, st) == 0 && S_ISREG(st->st_mode);
}

static void install_form(const struct wiz *w, bool downgrade)
{
    form_begin(w, "/update/install", false);
    if (downgrade) {
        html_printf("<input type=\"hidden\" name=\"downgrade\" value=\"yes\">\n");
        form_end("Install the older version");
    } else {
        form_end("Install");
    }
}

static void show_page(const struct wiz *w, int status, const char *notice_kind, const char *notice,
                      const struct result *res, bool confirm_downgrade, bool offer_reboot)
{
    struct stat st;
    layout_begin(w, "Update");
    if (notice)
        layout_notice(notice_kind, notice);
    if (res)
        form_result(res);
    if (offer_reboot) {
        html_printf("<p>The new system is in the other slot. The next boot tries it once; if "
                    "it is not healthy within a few minutes, the appliance goes back to this "
                    "one by itself.</p>\n");
        form_begin(w, "/update/reboot", false);
        form_end("Reboot to try it");
    }
    show_status();
    if (confirm_downgrade && stored_upload(&st)) {
        html_printf("<h2>Confirm the downgrade</h2>\n<p id=\"downgrade-warning\">The uploaded "
                    "bundle is older than the running system. Install it only if you mean to "
                    "go back to that version.</p>\n");
        install_form(w, true);
    } else if (!offer_reboot && stored_upload(&st)) {
        char when[64];
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&st.st_mtime));
        html_printf("<h2>Install the uploaded bundle</h2>\n<p id=\"uploaded\">Uploaded %s: "
                    "%lld bytes. It is checked (signature, every part, version, space) before "
                    "anything is written.</p>\n",
                    when, (long long)st.st_size);
        install_form(w, false);
    }
    html_printf("<h2>Upload a bundle</h2>\n<p>A signed update bundle "
                "(<code>pullbox-&lt;version&gt;.pbu</code>, at most %llu MiB). It replaces the "
                "other slot only: the running system and the data disk stay as they are.</p>\n",
                UPDATE_BUNDLE_MAX >> 20);
    form_begin(w, "/update/upload", true);
    form_input("file", "bundle", "Bundle", NULL, NULL, NULL);
    form_end("Upload");
    layout_end();
    reply_send(status);
}

static void remove_upload(void)
{
    char path[600];
    upload_path(path, sizeof(path), UPDATE_UPLOAD_NAME);
    unlink(path);
}

static void do_upload(struct wiz *w)
{
    char dir[600], msg[400];
    unsigned long long size = 0;
    upload_path(dir, sizeof(dir), NULL);
    int status =
        upload_stream(w, stdin, dir, UPDATE_UPLOAD_NAME, UPDATE_BUNDLE_MAX + UPLOAD_OVERHEAD,
                      UPDATE_DATA_RESERVE, &size, msg, sizeof(msg));
    if (status != 0) {
        show_page(w, status, "error", msg, NULL, false, false);
        return;
    }
    snprintf(msg, sizeof(msg), "Uploaded: %llu bytes. Check and install it below.", size);
    show_page(w, 200, "ok", msg, NULL, false, false);
}

static void do_install(struct wiz *w)
{
    struct request rq;
    struct result res;
    char err[512];
    struct stat st;
    const char *dg = cgi_form_get(&w->form, "downgrade");
    if (!stored_upload(&st)) {
        show_page(w, 409, "error", "There is no uploaded bundle: upload one first.", NULL, false,
                  false);
        return;
    }
    request_init(&rq, "update-install");
    request_add(&rq, "source", "upload", 6);
    request_add(&rq, "name", UPDATE_UPLOAD_NAME, strlen(UPDATE_UPLOAD_NAME));
    if (dg && strcmp(dg, "yes") == 0)
        request_add(&rq, "allow-downgrade", "yes", 3);
    int rc = spool_call(&rq, INSTALL_TIMEOUT, &res, err, sizeof(err));
    request_free(&rq);
    if (rc != 0) {
        show_page(w, 503, "error", err, NULL, false, false);
        return;
    }
    const char *kind = update_result_step(&res, UPDATE_STEP_REFUSED);
    bool downgrade = !res.ok && strcmp(kind, "downgrade") == 0;
    /* installed, or refused for good: the upload has done its part */
    if (!downgrade)
        remove_upload();
    show_page(w, res.ok ? 200 : 422, NULL, NULL, &res, downgrade, res.ok);
}

static void do_reboot(struct wiz *w)
{
    struct request rq;
    struct result res;
    char err[512];
    request_init(&rq, "reboot");
    int rc = spool_call(&rq, WIZ_APPLY_TIMEOUT, &res, err, sizeof(err));
    request_free(&rq);
    if (rc != 0) {
        show_page(w, 503, "error", err, NULL, false, false);
        return;
    }
    layout_begin(w, "Update");
    form_result(&res);
    html_printf("<p>Log in again once the appliance is back; this page then says whether the "
                "new system was kept.</p>\n");
    layout_end();
    reply_send(res.ok ? 200 : 500);
}

bool page_update_streams(const struct wiz *w)
{
    return w->post && strcmp(w->req.path, "/update/upload") == 0;
}

void page_update(struct wiz *w)
{
    const char *path = w->req.path;
    if (!w->post || strcmp(path, "/update") == 0)
        show_page(w, 200, NULL, NULL, NULL, false, false);
    else if (strcmp(path, "/update/upload") == 0)
        do_upload(w);
    else if (strcmp(path, "/update/install") == 0)
        do_install(w);
    else
        do_reboot(w);
}
