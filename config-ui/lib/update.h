/* Installing an update bundle (bundle.h) from the wizard or the console:
 * where a bundle may come from, how the tools name it to the apply service,
 * and what `pullbox-update status` reports.
 *
 * The tools never hand root a path. A request names a source and a file
 * name; the apply service maps the source to one of the folders below and
 * opens the name in it without following a link:
 *   upload  PATH_UPDATE_UPLOAD, the wizard's (www's) folder for uploads
 *   home    PATH_UPDATE_HOME, the admin's ~/updates (scp, or a download)
 *   data    PATH_UPDATE_DATA, bundles placed on the data disk
 *
 * Operations (spool.h):
 *   update-status: (none) -> one step per line of `pullbox-update status`
 *                  (what = key, detail = value)
 *   update-install: source, name, allow-downgrade ("yes" or absent) ->
 *                  the bundle is verified (pullbox-update-verify), then
 *                  installed into the other slot (pullbox-update install);
 *                  a refusal has a step UPDATE_STEP_REFUSED whose detail
 *                  is the verifier's kind ("downgrade", "signature", ...) */
#ifndef PULLBOX_CFG_UPDATE_H
#define PULLBOX_CFG_UPDATE_H

#include <stdbool.h>
#include <stddef.h>

#define PATH_UPDATE_UPLOAD "data/config-ui/upload" /* www 0700: the wizard's uploads */
#define PATH_UPDATE_HOME "data/home/admin/updates" /* the admin's, made by the console */
#define PATH_UPDATE_DATA "data/updates"            /* root:admin 0770 */
/* Where the installer keeps its root-only copy of a bundle: the space a
 * bundle needs is checked on this folder's file system. */
#define PATH_UPDATE_STAGE "data/update"
#define PATH_UPDATE_TOOL "usr/sbin/pullbox-update"
#define PATH_UPDATE_VERIFY "usr/sbin/pullbox-update-verify"
#define PATH_RUNNING_VERSION "etc/pullbox-version"

/* The one name the wizard stores an upload under (one at a time). */
#define UPDATE_UPLOAD_NAME "upload.pbu"
/* The largest bundle accepted from the wizard or a URL: a system slot is
 * 256 MiB, and kernel and initramfs come with it. */
#define UPDATE_BUNDLE_MAX (384ULL * 1024 * 1024)
/* What an upload or a download leaves free on /data, for pullboxd's
 * journal and the logs: a bundle that would eat into it is refused. */
#define UPDATE_DATA_RESERVE (32ULL * 1024 * 1024)
#define UPDATE_NAME_MAX 96
#define UPDATE_STEP_REFUSED "refused"

/* The folder (relative to the root) of a source, or NULL if unknown. */
const char *update_source_dir(const char *source);

/* True for a plain file name ending in ".pbu": [A-Za-z0-9][A-Za-z0-9._-]*,
 * at most UPDATE_NAME_MAX bytes, never a path. */
bool update_name_valid(const char *name);

/* What `pullbox-update status` prints (key=value lines). */
struct update_status {
    char slot[8], version[40], other_slot[8], other_version[40], state[16], message[200];
};

/* Reads key=value lines into st (unknown keys ignored, values cut to
 * their field; a value with a control character is dropped). Returns the
 * number of known keys found. */
int update_status_parse(const char *text, size_t len, struct update_status *st);

struct result;
/* The detail of the result's step called what ("" when there is none): an
 * update-status value, or the kind of an update-install refusal. */
const char *update_result_step(const struct result *res, const char *what);

/* The state in words for an admin: "committed" -> "in use (kept)". */
const char *update_state_words(const char *state);

#endif
