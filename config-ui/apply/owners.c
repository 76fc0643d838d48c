/* --fix-owners (first thing at every boot): the folders and files root
 * reads are root's again, with their mode and group, whatever an older
 * release or another user left there. Every entry is opened from its
 * folder's descriptor without following a link; a link where a file
 * belongs is removed, not chowned (fileio.h: file_secure_at). An
 * older release let pullbox own the TLS folder and the admin own .ssh and
 * authorized_keys: both are taken back here. */
#include "apply.h"

#include "fileio.h"
#include "root.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum owner_group { G_ROOT, G_CONFIG, G_PULLBOX, G_ADMIN };

static const struct {
    const char *rel; /* in the order of the walk: a folder before what it holds */
    bool dir;
    enum owner_group group;
    unsigned mode;
} owned[] = {
    {"data", true, G_ROOT, 0755},
    {"data/etc", true, G_ROOT, 0755},
    {"data/pullbox", true, G_ROOT, 0755},
    {PATH_SHADOW, false, G_ROOT, 0600},
    {PATH_SETTINGS, false, G_CONFIG, 0640},
    {PATH_SECRETS, false, G_CONFIG, 0640},
    {PATH_SETUP_CODE, false, G_CONFIG, 0640},
    {PATH_SSH_HOST_KEYS, true, G_ROOT, 0700},
    /* the files before their folder: while the folder is still pullbox's
     * (an older release), a link or hard link pullbox left there is
     * recognised as one and removed */
    {PATH_TLS_CERT, false, G_PULLBOX, 0640},
    {PATH_TLS_KEY, false, G_PULLBOX, 0640},
    {PATH_TLS_CHAIN, false, G_PULLBOX, 0640},
    {PATH_TLS_DIR, true, G_PULLBOX, 0750},
    {"data/home", true, G_ROOT, 0755},
};

/* -1 (leave the group as it is) for a group this system does not have:
 * a test tree on a host without the appliance's users. */
static long group_id(enum owner_group g, long config_gid)
{
    const char *name = g == G_PULLBOX ? "pullbox" : g == G_ADMIN ? "admin" : NULL;
    struct group *gr;

    if (g == G_ROOT)
        return 0;
    if (g == G_CONFIG)
        return config_gid;
    gr = root_is_system() ? getgrnam(name) : NULL;
    return gr ? (long)gr->gr_gid : -1;
}

/* One entry: opens its folder (file_open_dir: the folders above are
 * root's by now) and secures the entry. */
static int fix_one(const char *rel, bool dir, long gid, unsigned mode)
{
    char path[PATH_MAX], err[512], *slash;
    int dfd, fd;

    if (root_path(path, sizeof(path), rel) != 0 || (slash = strrchr(path, '/')) == NULL)
        return -1;
    *slash = '\0';
    dfd = file_open_dir(path);
    if (dfd < 0) {
        apply_log("fix-owners: %s: %s", path, strerror(errno));
        return -1;
    }
    fd = file_secure_at(dfd, slash + 1, dir, 0, gid, mode, err, sizeof(err));
    close(dfd);
    if (fd < 0) {
        apply_log("fix-owners: %s/%s", path, err);
        return -1;
    }
    if (dir)
        close(fd);
    return 0;
}

int owners_fix(long config_gid)
{
    struct passwd *admin = root_is_system() ? getpwnam("admin") : NULL;
    char home[PATH_MAX], err[512];
    int rc = 0, hfd, dfd;

    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        if (fix_one(owned[i].rel, owned[i].dir, group_id(owned[i].group, config_gid),
                    owned[i].mode) != 0)
            rc = -1;
    /* the admin's home is the admin's; .ssh and authorized_keys in it are
     * root's (dropbear refuses keys anyone but root or the admin can write) */
    root_path(home, sizeof(home), "data/home");
    hfd = file_open_dir(home);
    if (hfd < 0 || file_secure_at(hfd, "admin", true, admin ? (long)admin->pw_uid : -1,
                                  admin ? (long)admin->pw_gid : -1, 0700, err, sizeof(err)) < 0) {
        apply_log("fix-owners: the admin's home: %s", hfd < 0 ? strerror(errno) : err);
        rc = -1;
    } else {
        dfd = ssh_dir_open(err, sizeof(err));
        if (dfd < 0 || file_secure_at(dfd, "authorized_keys", false, 0,
                                      group_id(G_ADMIN, config_gid), 0640, err, sizeof(err)) < 0) {
            apply_log("fix-owners: %s/.ssh: %s", PATH_ADMIN_HOME, err);
            rc = -1;
        }
        if (dfd >= 0)
            close(dfd);
    }
    if (hfd >= 0)
        close(hfd);
    return rc;
}
