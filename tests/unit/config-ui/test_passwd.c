/* Unit tests for config-ui/lib/passwd.c: the policy, yescrypt hashes
 * through libxcrypt, verification. */
#include "passwd.h"

#include "tap.h"

#include <crypt.h>

static void test_policy(void)
{
    char err[256];
    char long_pw[PASSWORD_MAX + 2];

    ok(passwd_check_policy("correct horse", err, sizeof err) == 0, "13 characters accepted");
    ok(passwd_check_policy("123456789", err, sizeof err) == -1, "9 characters refused");
    ok(strstr(err, "at least 10") != NULL, "the error names the minimum");
    note("%s", err);
    ok(passwd_check_policy("1234567890", err, sizeof err) == 0, "exactly 10 accepted");
    memset(long_pw, 'a', PASSWORD_MAX);
    long_pw[PASSWORD_MAX] = '\0';
    ok(passwd_check_policy(long_pw, err, sizeof err) == 0, "exactly the maximum accepted");
    long_pw[PASSWORD_MAX] = 'a';
    long_pw[PASSWORD_MAX + 1] = '\0';
    ok(passwd_check_policy(long_pw, err, sizeof err) == -1 && strstr(err, "at most 128"),
       "one over the maximum refused, the error names the maximum");
    ok(passwd_check_policy("good password\n", err, sizeof err) == -1 &&
           strstr(err, "control character"),
       "a newline is refused");
    ok(passwd_check_policy("tab\there is bad", err, sizeof err) == -1, "a tab is refused");
    ok(passwd_check_policy("del\x7f is bad too", err, sizeof err) == -1, "DEL is refused");
    ok(passwd_check_policy("пароль-длинный", err, sizeof err) == 0, "UTF-8 letters accepted");
}

static void test_hash_verify(void)
{
    char h1[CRYPT_OUTPUT_SIZE], h2[CRYPT_OUTPUT_SIZE];

    ok(passwd_hash("correct horse battery", h1, sizeof h1) == 0, "hash");
    note("%s", h1);
    ok(strncmp(h1, "$y$", 3) == 0, "yescrypt ($y$)");
    ok(passwd_hash("correct horse battery", h2, sizeof h2) == 0 && strcmp(h1, h2) != 0,
       "a new salt each time");
    ok(passwd_verify("correct horse battery", h1), "the right password matches");
    ok(passwd_verify("correct horse battery", h2), "...with either salt");
    ok(!passwd_verify("correct horse batterY", h1), "one letter off does not match");
    ok(!passwd_verify("correct horse battery ", h1), "a trailing space does not match");
    ok(!passwd_verify("", h1), "the empty password does not match");
    ok(!passwd_verify("", ""), "empty hash never matches (empty password)");
    ok(!passwd_verify("x", ""), "empty hash never matches");
    ok(!passwd_verify("x", "*"), "\"*\" never matches");
    ok(!passwd_verify("x", "!"), "\"!\" never matches");
    char locked[CRYPT_OUTPUT_SIZE + 1] = "!";
    strcat(locked, h1);
    ok(!passwd_verify("correct horse battery", locked),
       "a locked hash (\"!$y$...\") never matches");
    ok(!passwd_verify("x", "garbage"), "a malformed hash never matches");
    ok(passwd_hash("correct horse battery", h2, 20) == -1, "too small an output buffer is refused");

    /* a hash made by another tool (mkpasswd / libxcrypt's own crypt) is
     * accepted: the appliance's shadow file may come from elsewhere */
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    const char *ext = crypt_r("another password", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$", &cd);
    ok(ext && ext[0] == '$', "libxcrypt hashes with a fixed salt");
    ok(ext && passwd_verify("another password", ext), "a foreign $y$ hash verifies");
    ok(ext && !passwd_verify("another passworD", ext), "...and only with its password");
}

int main(void)
{
    subtest("policy", test_policy);
    subtest("hash and verify", test_hash_verify);
    return done_testing();
}
