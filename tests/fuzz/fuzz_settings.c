/* config-ui's settings file (settings_parse), which the apply service reads
 * as root and trusts from no one. Input: the file.
 * Properties: a file that parses, written out again (settings_encode) parses
 * to equal settings, and holds no NUL byte; every stored value is already normal (settings_set of
 * it accepts it and stores it unchanged); list values split into at most
 * the key's entry limit; the cross-field check answers with a field to
 * blame and a message. */
/* fuzz-link: config-ui */
#include "settings.h"

#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct settings a, b, c;
    char err[SETTING_ERR_MAX];
    if (size > 256 * 1024)
        return 0;
    char *in = malloc(size ? size : 1);
    memcpy(in, data, size);
    err[0] = 0;
    int rc = settings_parse(&a, in, size, err, sizeof err);
    free(in);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        FUZZ_CHECK(err[0] != 0);
        return 0;
    }
    FUZZ_CHECK(!memchr(data, 0, size)); /* a C string would drop the rest of its line */
    char *text;
    size_t len;
    FUZZ_CHECK(settings_encode(&a, &text, &len) == 0);
    FUZZ_CHECK(settings_parse(&b, text, len, err, sizeof err) == 0);
    FUZZ_CHECK(settings_equal(&a, &b));
    free(text);
    for (int i = 0; i < S__COUNT; i++) {
        c = a;
        FUZZ_CHECK(settings_set(&c, (enum setting_id)i, a.v[i], err, sizeof err) == 0);
        FUZZ_CHECK(strcmp(c.v[i], a.v[i]) == 0);
        FUZZ_CHECK(setting_find(setting_defs[i].key) == i);
        const char *items[SETTING_LIST_MAX + 1];
        char tmp[SETTING_VALUE_MAX];
        size_t n = settings_split(a.v[i], tmp, sizeof tmp, items, SETTING_LIST_MAX + 1);
        FUZZ_CHECK(n <= SETTING_LIST_MAX + 1);
        if (setting_defs[i].kind == SK_NET_LIST || setting_defs[i].kind == SK_ADDR_LIST ||
            setting_defs[i].kind == SK_HOST_LIST || setting_defs[i].kind == SK_NET_LIST_ANY)
            FUZZ_CHECK(setting_defs[i].max == 0 || n <= (size_t)setting_defs[i].max);
    }
    enum setting_id bad = S__COUNT;
    err[0] = 0;
    if (settings_check(&a, &bad, err, sizeof err) != 0)
        FUZZ_CHECK(bad < S__COUNT && err[0] != 0);
    return 0;
}
