/* Unit tests for config-ui/lib/sshkeys.c: the SSH key list both front ends
 * show and the rules both apply before a change (the apply service applies
 * them again). */
#include "sshkeys.h"

#include "tap.h"

#include <string.h>

#define ED "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFFu4mzUCAt4i1m4kfm7ZLqpYHxHpF0t4eM1zKcHpQ8c"

static void test_list(void)
{
    static const char text[] = "# a comment\n\n" ED " me@laptop\n" ED "\n";
    struct sshkey_summary k[2];

    ok(sshkeys_list(text, strlen(text), k, 2) == 2, "comments and empty lines are no keys");
    ok(strcmp(k[0].type, "ssh-ed25519") == 0 && strcmp(k[0].comment, "me@laptop") == 0,
       "type and comment");
    ok(strcmp(k[0].start, "AAAAC3NzaC1l") == 0 && strcmp(k[0].end, "zKcHpQ8c") == 0,
       "the blob's first 12 and last 8 characters");
    ok(k[1].comment[0] == '\0', "a key without a comment");
    ok(sshkeys_list(text, strlen(text), k, 1) == 2, "counts beyond max");
    ok(sshkeys_list(ED, strlen(ED), NULL, 0) == 1, "a last line without its line break counts");
    ok(sshkeys_list("", 0, NULL, 0) == 0, "an empty file has none");
}

static void test_rules(void)
{
    struct settings st;

    settings_defaults(&st);
    ok(sshkeys_looks_like_key(ED) && sshkeys_looks_like_key("ecdsa-sha2-nistp256 AAAA") &&
           !sshkeys_looks_like_key("rm -rf / #") && !sshkeys_looks_like_key(" ssh-ed25519"),
       "a key line starts with its type");
    ok(sshkeys_key_only_refusal(0) != NULL && sshkeys_key_only_refusal(1) == NULL,
       "keys only needs a key");
    ok(sshkeys_remove_refusal(&st, 1) == NULL, "with passwords on, the last key may go");
    strcpy(st.v[S_SSH_KEY_ONLY], "yes");
    ok(sshkeys_remove_refusal(&st, 1) != NULL, "with keys only, the last key stays");
    ok(sshkeys_remove_refusal(&st, 0) != NULL, "and so does a key of an empty list");
    ok(sshkeys_remove_refusal(&st, 2) == NULL, "one of two keys may go");
}

int main(void)
{
    test_list();
    test_rules();
    return done_testing();
}
