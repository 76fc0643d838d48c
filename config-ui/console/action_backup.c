/* Menu item 8: backup and restore of the whole configuration, encrypted
 * with a passphrase (lib/backup.h). A backup goes to a file in the admin's
 * home folder (to fetch with scp) or to the screen as base64 (to copy); a
 * restore reads one from there or from pasted base64. File names are plain
 * names inside that one folder: no '/', no "..", nothing hidden. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "console.h"
#include "fileio.h"
#include "root.h"
#include "spool.h"

#define BK_NAME_MAX 64
#define BK_B64_BEGIN "-----BEGIN PULLBOX BACKUP-----"
#define BK_B64_END "-----END PULLBOX BACKUP-----"
#define BK_B64_LINE 76

/* Asks for a file name in the home folder and builds its path. */
static bool ask_file(char *path, size_t pathlen, char *name, size_t namelen)
{
    for (;;) {
        if (!con_ask("File name in /" CON_HOME " (like pullbox.backup, q to go back): ", name,
                     namelen))
            return false;
        bool ok = name[0] != '.' && strlen(name) <= BK_NAME_MAX;
        for (const char *p = name; *p && ok; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '.' || *p == '-' || *p == '_';
        char rel[256];
        snprintf(rel, sizeof rel, "%s/%s", CON_HOME, name);
        if (ok && root_path(path, pathlen, rel) == 0)
            return true;
        printf("A file name is letters, digits, '.', '-' and '_' (at most %d, not starting with"
               " '.'), no folders.\n",
               BK_NAME_MAX);
    }
}

static bool ask_new_passphrase(char *pass, size_t len)
{
    char again[256];
    for (;;) {
        if (!con_ask_secret("Passphrase for the backup: ", pass, len))
            return false;
        if (strlen(pass) < BACKUP_PASSPHRASE_MIN) {
            printf("At least %d characters, please.\n", BACKUP_PASSPHRASE_MIN);
            continue;
        }
        if (!con_ask_secret("The same passphrase again: ", again, sizeof again))
            return false;
        if (strcmp(pass, again) == 0)
            return true;
        printf("The two passphrases differ.\n");
    }
}

static bool make_backup(unsigned char **data, size_t *len)
{
    char pass[256], err[512];
    if (!ask_new_passphrase(pass, sizeof pass))
        return false;
    printf("Encrypting (a few seconds)...\n");
    fflush(stdout);
    /* the apply service makes it: the TLS key and the SSH host keys are
     * not readable by admin */
    int rc = backup_request(pass, 60, data, len, err, sizeof err);
    memset(pass, 0, sizeof pass);
    if (rc < 0)
        printf("Cannot make the backup: %s\n", err);
    return rc == 0;
}

static void save_file(void)
{
    char path[4096], name[BK_NAME_MAX + 2], err[512];
    unsigned char *data = NULL;
    size_t len;
    if (!ask_file(path, sizeof path, name, sizeof name) || !make_backup(&data, &len))
        return;
    if (file_write_atomic(path, data, len, 0600, err, sizeof err) < 0)
        printf("Cannot save it: %s\n", err);
    else
        printf("Saved /%s/%s (%zu bytes). Fetch it with: scp admin@<appliance>:%s .\n", CON_HOME,
               name, len, name);
    free(data);
}

static void show_base64(void)
{
    unsigned char *data = NULL;
    size_t len;
    if (!make_backup(&data, &len))
        return;
    unsigned char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (b64) {
        int n = EVP_EncodeBlock(b64, data, (int)len);
        printf("Copy everything from the BEGIN line to the END line:\n%s\n", BK_B64_BEGIN);
        for (int i = 0; i < n; i += BK_B64_LINE)
            printf("%.*s\n", n - i < BK_B64_LINE ? n - i : BK_B64_LINE, b64 + i);
        printf("%s\n", BK_B64_END);
    }
    free(b64);
    free(data);
}

/* Decrypts a backup, shows what it holds and sends one "restore" request. */
static void restore(const unsigned char *data, size_t len)
{
    static struct request r;
    char pass[256], err[512];
    if (!con_ask_secret("Passphrase of the backup: ", pass, sizeof pass))
        return;
    int rc = backup_open(pass, data, len, &r, err, sizeof err);
    memset(pass, 0, sizeof pass);
    if (rc < 0) {
        printf("Cannot open the backup: %s\nNothing was changed.\n", err);
        return;
    }
    printf("The backup holds:");
    for (size_t i = 0; i < r.nargs; i++)
        printf(" %s", r.args[i].key);
    printf("\n");
    if (!con_confirm("Replace this appliance's settings, keys and certificate with it?")) {
        request_free(&r);
        printf("Nothing was changed.\n");
        return;
    }
    con_send(&r, NULL);
}

static void restore_file(void)
{
    char path[4096], name[BK_NAME_MAX + 2], err[512];
    char *data = NULL;
    if (!ask_file(path, sizeof path, name, sizeof name))
        return;
    long len = file_read_all(path, BACKUP_MAX_BYTES, &data, err, sizeof err);
    if (len < 0) {
        printf("Cannot read it: %s\n", err);
        return;
    }
    restore((unsigned char *)data, (size_t)len);
    free(data);
}

/* Keeps only the base64 alphabet between the BEGIN and END lines. */
static size_t strip_base64(char *text)
{
    char *p = strstr(text, BK_B64_BEGIN), *w = text;
    p = p ? p + strlen(BK_B64_BEGIN) : text;
    char *end = strstr(p, BK_B64_END);
    for (; *p && p != end; p++)
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '+' || *p == '/' || *p == '=')
            *w++ = *p;
    *w = '\0';
    return (size_t)(w - text);
}

static void restore_pasted(void)
{
    char *text = NULL;
    printf("Paste the backup text (through its %s line, or a line END):\n", BK_B64_END);
    if (con_read_paste(BK_B64_END, BACKUP_MAX_BYTES * 4 / 3 + 8192, &text) < 0)
        return;
    size_t n = strip_base64(text);
    unsigned char *data = malloc(n / 4 * 3 + 3);
    int len = n % 4 == 0 && data ? EVP_DecodeBlock(data, (unsigned char *)text, (int)n) : -1;
    if (len < 0) {
        printf("That is not a complete backup text (base64).\nNothing was changed.\n");
    } else {
        /* EVP_DecodeBlock counts the padding as zero bytes */
        for (size_t i = n; i > 0 && text[i - 1] == '='; i--)
            len--;
        restore(data, (size_t)len);
    }
    free(data);
    free(text);
}

void action_backup(void)
{
    int choice;
    printf("  1  Save a backup to a file in /%s (fetch it with scp)\n"
           "  2  Show a backup as text to copy\n"
           "  3  Restore from a file in /%s (put it there with scp)\n"
           "  4  Restore from pasted text\n\n",
           CON_HOME, CON_HOME);
    if (!con_ask_number("Choose (1-4, q to go back): ", 4, &choice))
        return;
    switch (choice) {
    case 1:
        save_file();
        break;
    case 2:
        show_base64();
        break;
    case 3:
        restore_file();
        break;
    case 4:
        restore_pasted();
        break;
    }
}
