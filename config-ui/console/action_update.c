/* Menu item 15: install a signed update bundle into the other system slot.
 * A bundle comes from the admin's ~/updates (copied there with scp, or
 * downloaded there from a URL the admin types) or from /data/updates on
 * the data disk. The console only names it (source and file name); the
 * apply service opens it itself, verifies it and asks the installer
 * (update.h). A downgrade is installed only after its own confirmation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "console.h"
#include "root.h"
#include "spool.h"
#include "update.h"

#define LIST_MAX 20
#define INSTALL_TIMEOUT 900.0
#define FETCH_SECONDS 1800.0 /* 384 MiB at about 2 Mbit/s */
#define DOWNLOAD_PARTIAL ".download.part"

static void show_status(void)
{
    static struct request r;
    static struct result res;
    char err[512];
    request_init(&r, "update-status");
    int rc = spool_call(&r, CON_SPOOL_TIMEOUT, &res, err, sizeof err);
    request_free(&r);
    if (rc != 0 || !res.ok) {
        printf("Slots: unknown (%s)\n", rc != 0 ? err : res.message);
        return;
    }
    const char *other = update_result_step(&res, "other-version");
    printf("Running: %s in slot %s, %s\nOther slot %s: %s\n", update_result_step(&res, "version"),
           update_result_step(&res, "slot"), update_state_words(update_result_step(&res, "state")),
           update_result_step(&res, "other-slot"), other[0] ? other : "empty");
    if (update_result_step(&res, "message")[0])
        printf("Last update: %s\n", update_result_step(&res, "message"));
}

/* Installs source/name; on a downgrade refusal asks again and retries
 * with the admin's confirmation. True when installed. */
static bool install(const char *source, const char *name)
{
    static struct request r;
    static struct result res;
    for (int attempt = 0; attempt < 2; attempt++) {
        request_init(&r, "update-install");
        request_add(&r, "source", source, strlen(source));
        request_add(&r, "name", name, strlen(name));
        if (attempt == 1)
            request_add(&r, "allow-downgrade", "yes", 3);
        printf("Checking the bundle (signature, every part, version, space), then installing "
               "it into the other slot; this takes a while.\n");
        if (con_send_within(&r, INSTALL_TIMEOUT, &res))
            return true;
        if (attempt == 1 || strcmp(update_result_step(&res, UPDATE_STEP_REFUSED), "downgrade") != 0)
            return false;
        printf("\nThis bundle is OLDER than the running system.\n");
        if (!con_confirm("Install the older version anyway (a downgrade)?")) {
            printf("Nothing was installed.\n");
            return false;
        }
    }
    return false;
}

static void after_install(void)
{
    printf("\nThe next boot tries the new system once; if it is not healthy within a few "
           "minutes, the appliance goes back to this one by itself.\n");
    if (con_confirm("Reboot now to try it?"))
        con_send_op("reboot");
    else
        printf("Reboot later from here or from item 12.\n");
}

/* Lists the bundles of a folder and lets the admin pick one into name. */
static bool pick(const char *rel, char *name, size_t namelen)
{
    char dir[4096], names[LIST_MAX][UPDATE_NAME_MAX + 1];
    int n = 0;
    root_path(dir, sizeof dir, rel);
    DIR *d = opendir(dir);
    if (!d) {
        printf("/%s: %s\n", rel, strerror(errno));
        return false;
    }
    struct dirent *e;
    while ((e = readdir(d)) && n < LIST_MAX) {
        struct stat st;
        if (!update_name_valid(e->d_name) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        memcpy(names[n], e->d_name, strlen(e->d_name) + 1); /* valid: fits */
        printf("  %2d  %s (%lld bytes)\n", n + 1, e->d_name, (long long)st.st_size);
        n++;
    }
    closedir(d);
    if (n == 0) {
        printf("No bundle (a file NAME.pbu) in /%s.\n", rel);
        return false;
    }
    int choice;
    char prompt[64];
    snprintf(prompt, sizeof prompt, "Install which (1-%d, q to go back): ", n);
    if (!con_ask_number(prompt, n, &choice))
        return false;
    snprintf(name, namelen, "%s", names[choice - 1]);
    return true;
}

/* The admin's ~/updates, made on first use (the admin's own folder). */
static bool home_updates(char *dir, size_t len)
{
    root_path(dir, len, PATH_UPDATE_HOME);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        printf("Cannot make %s: %s\n", dir, strerror(errno));
        return false;
    }
    return true;
}

static void from_folder(const char *source)
{
    char name[UPDATE_NAME_MAX + 1], dir[4096];
    const char *rel = update_source_dir(source);
    if (strcmp(source, "home") == 0) {
        if (!home_updates(dir, sizeof dir))
            return;
        printf("Copy a bundle here with: scp -O pullbox-<version>.pbu admin@<appliance>:updates/\n");
    }
    if (pick(rel, name, sizeof name) && install(source, name))
        after_install();
}

/* The file name a URL's last path segment gives, if it is a bundle name. */
static void name_from_url(const char *url, char *name, size_t len)
{
    const char *end = url + strcspn(url, "?#"), *slash = end;
    while (slash > url && slash[-1] != '/')
        slash--;
    snprintf(name, len, "%.*s", (int)(end - slash), slash);
    if (!update_name_valid(name))
        snprintf(name, len, "download.pbu");
}

static void from_url(void)
{
    char url[CON_URL_MAX + 2], dir[4096], name[UPDATE_NAME_MAX + 1], err[256];
    for (;;) {
        if (!con_ask("URL of the bundle (http:// or https://, q to go back): ", url, sizeof url))
            return;
        if (con_url_valid(url))
            break;
        printf("A URL starts with http:// or https:// and has no spaces (at most %d "
               "characters).\n",
               CON_URL_MAX);
    }
    if (!home_updates(dir, sizeof dir))
        return;
    name_from_url(url, name, sizeof name);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = dfd < 0 ? -1
                     : openat(dfd, DOWNLOAD_PARTIAL,
                              O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        printf("Cannot write in %s: %s\n", dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return;
    }
    unsigned long long got = 0, max = UPDATE_BUNDLE_MAX, avail = 0;
    char too_large[160];
    struct statvfs vfs;
    if (fstatvfs(fd, &vfs) == 0)
        avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
    snprintf(too_large, sizeof too_large,
             "the download is larger than %llu MiB, the largest bundle", max >> 20);
    if (avail < max + UPDATE_DATA_RESERVE) {
        /* the data disk keeps room for pullboxd's journal and the logs */
        max = avail > UPDATE_DATA_RESERVE ? avail - UPDATE_DATA_RESERVE : 0;
        snprintf(too_large, sizeof too_large,
                 "not enough space: the data disk has %llu MiB free and keeps %llu MiB for the "
                 "queue server",
                 avail >> 20, UPDATE_DATA_RESERVE >> 20);
    }
    printf("Downloading (at most %llu MiB; the signature is checked before anything is "
           "installed)...\n",
           max >> 20);
    int rc = con_fetch(url, fd, max, too_large, FETCH_SECONDS, &got, err, sizeof err);
    if (rc == 0 && fsync(fd) != 0) {
        snprintf(err, sizeof err, "cannot write the file: %s", strerror(errno));
        rc = -1;
    }
    close(fd);
    if (rc == 0 && renameat(dfd, DOWNLOAD_PARTIAL, dfd, name) != 0) {
        snprintf(err, sizeof err, "cannot store it: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlinkat(dfd, DOWNLOAD_PARTIAL, 0);
    close(dfd);
    if (rc != 0) {
        printf("Not downloaded: %s. Nothing was kept or installed.\n", err);
        return;
    }
    printf("Downloaded %llu bytes to ~/updates/%s.\n", got, name);
    if (install("home", name))
        after_install();
}

void action_update(void)
{
    int choice;
    show_status();
    printf("\n  1  Install a bundle copied with scp to ~/updates\n"
           "  2  Download a bundle from an http(s) URL, then install it\n"
           "  3  Install a bundle from the data disk (/%s)\n"
           "  4  Reboot to try the installed update\n\n",
           PATH_UPDATE_DATA);
    if (!con_ask_number("Choose (1-4, q to go back): ", 4, &choice))
        return;
    if (choice == 1)
        from_folder("home");
    else if (choice == 2)
        from_url();
    else if (choice == 3)
        from_folder("data");
    else if (con_confirm("Reboot the appliance now?"))
        con_send_op("reboot");
}
