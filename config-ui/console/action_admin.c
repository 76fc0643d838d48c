/* Menu item 10: the admin's password (login, SSH, the wizard), the SSH
 * keys that may log in as admin, and whether SSH takes the password at all
 * (ssh.key-only). The console checks the current password itself, hashes
 * the new one (yescrypt) and sends only the hash; keys are added and removed
 * by the apply service, which owns authorized_keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "fileio.h"
#include "passwd.h"
#include "root.h"
#include "secrets.h"
#include "settings.h"
#include "sshkeys.h"

#define SSH_KEYS_FILE_MAX (SSHKEYS_MAX * 8193) /* the apply service's bound */

/* Asks for the current password and checks it. */
bool con_check_password(void)
{
    static struct secrets sec;
    char pass[PASSWORD_MAX + 2];
    if (!con_load(NULL, &sec))
        return false;
    /* claimed with an SSH key alone (a first-boot seed) there is no password
     * yet: the key that opened this session is the proof, and the first
     * password is set here */
    if (sec.admin_password_hash[0] == '\0')
        return true;
    if (!con_ask_secret("Current admin password: ", pass, sizeof pass))
        return false;
    bool good = passwd_verify(pass, sec.admin_password_hash);
    memset(pass, 0, sizeof pass);
    if (!good)
        printf("Wrong password.\n");
    return good;
}

static void change_password(void)
{
    char pass[PASSWORD_MAX + 2], again[PASSWORD_MAX + 2], hash[256], err[256];
    if (!con_check_password())
        return;
    for (;;) {
        if (!con_ask_secret("New password: ", pass, sizeof pass))
            goto out;
        if (passwd_check_policy(pass, err, sizeof err) < 0) {
            printf("%s\n", err);
            continue;
        }
        if (!con_ask_secret("The same password again: ", again, sizeof again))
            goto out;
        if (strcmp(pass, again) == 0)
            break;
        printf("The two passwords differ.\n");
    }
    if (passwd_hash(pass, hash, sizeof hash) < 0) {
        printf("Cannot hash the password.\n");
        goto out;
    }
    con_send_arg("password", "admin-password-hash", hash);
out:
    memset(pass, 0, sizeof pass);
    memset(again, 0, sizeof again);
}

/* Prints the keys numbered as the apply service counts them. Returns how
 * many. */
static int list_keys(void)
{
    static struct sshkey_summary keys[SSHKEYS_MAX];
    char path[4096], err[256];
    char *text = NULL;
    long len;
    int n = 0;
    if (root_path(path, sizeof path, PATH_AUTHORIZED_KEYS) == 0 &&
        (len = file_read_all(path, SSH_KEYS_FILE_MAX, &text, err, sizeof err)) >= 0)
        n = sshkeys_list(text, (size_t)len, keys, SSHKEYS_MAX);
    for (int i = 0; i < n && i < SSHKEYS_MAX; i++)
        printf("  %d  %s %s...%s %s\n", i + 1, keys[i].type, keys[i].start, keys[i].end,
               keys[i].comment);
    if (n == 0)
        printf("No SSH keys.\n");
    free(text);
    return n;
}

static void add_key(void)
{
    char line[4096]; /* a terminal line holds at most 4095 bytes */
    printf("Paste one public key line (like: ssh-ed25519 AAAA... you@laptop):\n");
    if (!con_ask("> ", line, sizeof line))
        return;
    if (!sshkeys_looks_like_key(line)) {
        printf("SSH key: " SSHKEYS_NOT_A_KEY ".\nNothing was changed.\n");
        return;
    }
    con_send_arg("ssh-key-add", "key", line);
}

static void remove_key(const struct settings *st, int n)
{
    char idx[16];
    int choice;
    const char *why = sshkeys_remove_refusal(st, n);
    if (why) {
        printf("SSH key: %s.\nNothing was changed.\n", why);
        return;
    }
    if (!con_ask_number("Remove which key (q to go back)? ", n, &choice))
        return;
    snprintf(idx, sizeof idx, "%d", choice);
    if (!con_confirm("Remove it (it can no longer log in)?")) {
        printf("Nothing was changed.\n");
        return;
    }
    con_send_arg("ssh-key-remove", "index", idx);
}

/* Turns SSH password logins off (keys only) or on again. Refused here
 * while no key is listed, and again by the apply service. */
static void switch_key_only(const struct settings *now, int nkeys)
{
    static struct settings st;
    st = *now;
    bool key_only = strcmp(st.v[S_SSH_KEY_ONLY], "yes") == 0;
    const char *why = key_only ? NULL : sshkeys_key_only_refusal(nkeys);
    if (why) {
        printf("%s: %s (2 adds one).\nNothing was changed.\n", setting_defs[S_SSH_KEY_ONLY].label,
               why);
        return;
    }
    if (!con_confirm(key_only ? "Let SSH take the admin password again?"
                              : "Refuse passwords over SSH (a key only)?")) {
        printf("Nothing was changed.\n");
        return;
    }
    snprintf(st.v[S_SSH_KEY_ONLY], sizeof st.v[S_SSH_KEY_ONLY], "%s", key_only ? "no" : "yes");
    con_send_settings(&st, NULL);
}

void action_admin(void)
{
    static struct settings st;
    int choice;
    if (!con_load(&st, NULL))
        return;
    bool key_only = strcmp(st.v[S_SSH_KEY_ONLY], "yes") == 0;
    printf("SSH keys that may log in as admin:\n");
    int n = list_keys();
    printf("SSH logins: %s\n",
           key_only ? "a key only (passwords are refused)" : "a password or a key");
    printf("\n  1  Change the admin password\n  2  Add an SSH key\n  3  Remove an SSH key\n"
           "  4  %s\n\n",
           key_only ? "Let SSH take the password again" : "SSH with a key only (refuse passwords)");
    if (!con_ask_number("Choose (1-4, q to go back): ", 4, &choice))
        return;
    if (choice == 1)
        change_password();
    else if (choice == 2)
        add_key();
    else if (choice == 4)
        switch_key_only(&st, n);
    else if (n == 0)
        printf("There is no key to remove.\n");
    else
        remove_key(&st, n);
}
