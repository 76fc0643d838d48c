/* Unit tests for config-ui/lib/secrets.c: new keys, rotation and expiry,
 * the file, and what the parser refuses. */
#include "secrets.h"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[256];

static int parses(const char *text)
{
    struct secrets s;
    return secrets_parse(&s, text, strlen(text), err, sizeof(err)) == 0;
}

static void test_keys(void)
{
    char a[SECRET_KEY_MAX], b[SECRET_KEY_MAX];

    ok(secrets_new_key(a) == 0 && secrets_new_key(b) == 0, "new keys");
    ok(strlen(a) == 64 && strspn(a, "0123456789abcdef") == 64, "64 lowercase hex digits");
    ok(strcmp(a, b) != 0, "two keys differ");
    ok(secrets_check_key(a, err, sizeof(err)) == 0, "a new key passes the check");
    ok(secrets_check_key("short", err, sizeof(err)) != 0, "too short");
    ok(secrets_check_key("0123456789abcdef; reboot", err, sizeof(err)) != 0, "shell characters");
    ok(secrets_check_key("0123456789abcdef'quote", err, sizeof(err)) != 0, "a quote (PHP string)");
}

static void test_rotation(void)
{
    struct secrets s;
    char old[SECRET_KEY_MAX];

    memset(&s, 0, sizeof(s));
    secrets_new_key(s.signature_key);
    memcpy(old, s.signature_key, sizeof(old));
    ok(secrets_rotate(&s, 1000, 60) == 0, "rotate");
    ok(strcmp(s.signature_key_previous, old) == 0 && s.previous_until == 1060,
       "the old key stays for the grace period");
    ok(strcmp(s.signature_key, old) != 0, "a new current key");
    ok(!secrets_expire_previous(&s, 1059) && s.signature_key_previous[0], "kept before the end");
    ok(secrets_expire_previous(&s, 1060) && !s.signature_key_previous[0] && s.previous_until == 0,
       "dropped at the end");
    secrets_rotate(&s, 1000, 0);
    ok(!s.signature_key_previous[0], "grace 0: the old key goes at once");
}

static void test_file(void)
{
    char dir[] = "/tmp/test_secrets-XXXXXX", path[256];
    struct secrets s, t;
    struct stat st;

    mkdtemp(dir);
    snprintf(path, sizeof(path), "%s/secrets.conf", dir);
    ok(secrets_load(&s, path, err, sizeof(err)) == 0 && !s.signature_key[0], "missing file: empty");
    secrets_new_key(s.signature_key);
    secrets_rotate(&s, 5000, 100);
    snprintf(s.admin_password_hash, sizeof(s.admin_password_hash), "$y$j9T$abc$def");
    ok(secrets_save(&s, path, 0640, err, sizeof(err)) == 0, "save");
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode 0640");
    ok(secrets_load(&t, path, err, sizeof(err)) == 0 &&
           strcmp(t.signature_key, s.signature_key) == 0 &&
           strcmp(t.signature_key_previous, s.signature_key_previous) == 0 &&
           t.previous_until == 5100 && strcmp(t.admin_password_hash, s.admin_password_hash) == 0,
       "round trip");
    unlink(path);
    rmdir(dir);
}

static void test_parse(void)
{
    ok(parses("# c\nsignature-key = 0123456789abcdef0123\n"), "a key");
    ok(!parses("signature-key = 0123456789abcdef$(reboot)\n"), "shell in a key");
    ok(!parses("bogus = 1\n"), "unknown key");
    ok(!parses("signature-key-previous-until = soon\n"), "until is a number");
    ok(!parses("admin-password-hash = $y$a b\n"), "a space in the hash");
    ok(!parses("admin-password-hash = plain\n"), "a hash starts with $");
    ok(parses("admin-password-hash = !\n"), "a locked hash");
    ok(!parses("signature-key = 0123456789abcdef\x01\n"), "control character");
}

int main(void)
{
    subtest("keys", test_keys);
    subtest("rotation", test_rotation);
    subtest("the file", test_file);
    subtest("parser", test_parse);
    return done_testing();
}
