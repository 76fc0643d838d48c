/* Unit tests for config-ui/lib/cpull.c: the options for each queue server
 * version, the public-name fallback, IPv6 hosts; the .settings.php block
 * passes php -l and PHP reads back every value; the CPullOptions snippet
 * passes php -l and calls each setter with its value. */
#include "cpull.h"
#include "fileio.h"
#include "root.h"
#include "secrets.h"
#include "settings.h"

#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];
static struct settings st;
static struct secrets sec;
static struct cpull_option o[CPULL_MAX_OPTIONS];

static const char *val(size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(o[i].name, name) == 0)
            return o[i].value;
    return NULL;
}

static void test_values(void)
{
    size_t n;
    const char *v;

    n = cpull_options(&st, &sec, "192.0.2.10", o, CPULL_MAX_OPTIONS);
    ok(n > 10 && n <= CPULL_MAX_OPTIONS, "options filled");
    ok((v = val(n, "path_to_publish")) && strcmp(v, "http://192.0.2.10:8895/bitrix/pub/") == 0,
       "publish url");
    ok((v = val(n, "path_to_modern_listener")) &&
           strcmp(v, "http://push.example.com:8893/bitrix/sub/") == 0,
       "listener on the public name");
    ok((v = val(n, "path_to_modern_listener_secure")) &&
           strcmp(v, "https://push.example.com:8894/bitrix/sub/") == 0,
       "secure listener");
    ok((v = val(n, "path_to_websocket")) &&
           strcmp(v, "ws://push.example.com:8893/bitrix/subws/") == 0,
       "ws");
    ok((v = val(n, "path_to_websocket_secure")) &&
           strcmp(v, "wss://push.example.com:8894/bitrix/subws/") == 0,
       "wss");
    ok((v = val(n, "path_to_publish_web")) &&
           strcmp(v, "http://push.example.com:8893/bitrix/rest/") == 0,
       "publish web");
    ok((v = val(n, "path_to_publish_web_secure")) &&
           strcmp(v, "https://push.example.com:8894/bitrix/rest/") == 0,
       "publish web secure");
    ok(val(n, "path_to_json_rpc") == NULL, "no JSON-RPC before version 5");
    ok((v = val(n, "nginx")) && strcmp(v, "Y") == 0, "nginx Y");
    ok((v = val(n, "nginx_version")) && strcmp(v, "4") == 0, "nginx_version from the settings");
    ok((v = val(n, "websocket")) && strcmp(v, "Y") == 0, "websocket Y");
    ok((v = val(n, "enable_protobuf")) && strcmp(v, "Y") == 0, "protobuf Y");
    ok((v = val(n, "signature_key")) && strcmp(v, sec.signature_key) == 0, "the key");
    ok((v = val(n, "signature_algo")) && strcmp(v, "sha1") == 0, "the algorithm");
    for (size_t i = 0; i < n; i++)
        if (!o[i].label || !o[i].label[0])
            ok(0, "every option has a label");

    settings_set(&st, S_SITE_VERSION, "5", err, sizeof(err));
    settings_set(&st, S_SITE_SIGNATURE_ALGO, "sha256", err, sizeof(err));
    n = cpull_options(&st, &sec, "192.0.2.10", o, CPULL_MAX_OPTIONS);
    ok((v = val(n, "path_to_json_rpc")) && strcmp(v, "http://192.0.2.10:8895/bitrix/api/") == 0,
       "version 5: JSON-RPC on the publish port");
    ok((v = val(n, "nginx_version")) && strcmp(v, "5") == 0 &&
           strcmp(val(n, "signature_algo"), "sha256") == 0,
       "version and algorithm follow");

    settings_set(&st, S_SITE_PUBLIC_NAME, "", err, sizeof(err));
    n = cpull_options(&st, &sec, "2001:db8::10", o, CPULL_MAX_OPTIONS);
    ok((v = val(n, "path_to_websocket")) &&
           strcmp(v, "ws://[2001:db8::10]:8893/bitrix/subws/") == 0,
       "no public name: the appliance address, IPv6 in brackets");
    ok((v = val(n, "path_to_publish")) && strcmp(v, "http://[2001:db8::10]:8895/bitrix/pub/") == 0,
       "IPv6 publish host in brackets");
    ok(cpull_options(&st, &sec, "h", o, 3) == 3, "bounded by max");
    settings_set(&st, S_SITE_PUBLIC_NAME, "push.example.com", err, sizeof(err));
    settings_set(&st, S_SITE_VERSION, "4", err, sizeof(err));
    settings_set(&st, S_SITE_SIGNATURE_ALGO, "sha1", err, sizeof(err));
}

static int have_php(void)
{
    return access("/usr/bin/php", X_OK) == 0;
}

/* Writes text into a temp file, runs php on it (or php -l); *out gets the output. */
static int php(const char *text, bool lint, char **out)
{
    char path[] = "/tmp/test_cpull-XXXXXX.php";
    int fd = mkstemps(path, 4), rc;

    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return -1;
    close(fd);
    const char *argv[] = {"/usr/bin/php", lint ? "-l" : "-f", path, NULL};
    rc = root_run(argv, NULL, NULL, 30, out, NULL, err, sizeof(err));
    unlink(path);
    return rc;
}

static char *capture(void (*fn)(const struct cpull_option *, size_t, FILE *), size_t n,
                     const char *before, const char *after)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    fputs(before, f);
    fn(o, n, f);
    fputs(after, f);
    fclose(f);
    return buf;
}

static void test_settings_php(void)
{
    size_t n;
    char *text, *out = NULL, expect[8192];
    size_t el = 0;

    if (!have_php()) {
        note("no php: skipped");
        ok(1, "skipped: no /usr/bin/php");
        return;
    }
    n = cpull_options(&st, &sec, "192.0.2.10", o, CPULL_MAX_OPTIONS);
    /* a value PHP must see unchanged even with quotes and backslashes */
    snprintf(o[n - 1].value, sizeof(o[n - 1].value), "it's a \\ test \\' end\\");
    text = capture(cpull_write_settings_php, n, "<?php return array(\n", ");\n");
    ok(php(text, true, &out) == 0, "the .settings.php block passes php -l");
    note("%s", out);
    free(out);
    free(text);
    text = capture(cpull_write_settings_php, n, "<?php $s = array(\n",
                   ");\nforeach ($s['pull']['value'] as $k => $v) echo $k, '=', $v, \"\\n\";\n"
                   "echo 'readonly=', var_export($s['pull']['readonly'], true), \"\\n\";\n");
    out = NULL;
    ok(php(text, false, &out) == 0, "PHP runs it");
    for (size_t i = 0; i < n; i++)
        el += (size_t)snprintf(expect + el, sizeof(expect) - el, "%s=%s\n", o[i].name, o[i].value);
    snprintf(expect + el, sizeof(expect) - el, "readonly=false\n");
    ok(out && strcmp(out, expect) == 0, "PHP reads back every value");
    if (out && strcmp(out, expect) != 0)
        note("php said:\n%s\nexpected:\n%s", out, expect);
    free(out);
    free(text);
}

static void test_php_calls(void)
{
    size_t n;
    char *text, *out = NULL, expect[8192];
    size_t el = 0;

    if (!have_php()) {
        ok(1, "skipped: no /usr/bin/php");
        return;
    }
    n = cpull_options(&st, &sec, "192.0.2.10", o, CPULL_MAX_OPTIONS);
    text = capture(cpull_write_php_calls, n, "<?php\n", "");
    ok(php(text, true, &out) == 0, "the snippet passes php -l");
    free(out);
    free(text);
    /* stand-ins for the Bitrix classes record each call */
    text = capture(cpull_write_php_calls, n,
                   "<?php\nclass CPullOptions { public static function __callStatic($m, $a) "
                   "{ echo $m, '(', implode(',', $a), \")\\n\"; } }\n"
                   "class COption { public static function SetOptionString($m, $k, $v) "
                   "{ echo 'SetOptionString(', $m, ',', $k, ',', $v, \")\\n\"; } }\n",
                   "");
    out = NULL;
    ok(php(text, false, &out) == 0, "PHP runs it");
    for (size_t i = 0; i < n; i++) {
        if (o[i].setter)
            el += (size_t)snprintf(expect + el, sizeof(expect) - el, "%s(%s)\n", o[i].setter,
                                   o[i].value);
        else
            el += (size_t)snprintf(expect + el, sizeof(expect) - el,
                                   "SetOptionString(pull,%s,%s)\n", o[i].name, o[i].value);
    }
    snprintf(expect + el, sizeof(expect) - el, "SetConfigTimestamp()\n");
    ok(out && strcmp(out, expect) == 0, "each setter gets its value");
    if (out && strcmp(out, expect) != 0)
        note("php said:\n%s", out);
    free(out);
    free(text);
}

int main(void)
{
    settings_defaults(&st);
    settings_set(&st, S_SITE_PUBLIC_NAME, "push.example.com", err, sizeof(err));
    memset(&sec, 0, sizeof(sec));
    secrets_new_key(sec.signature_key);
    subtest("values", test_values);
    subtest(".settings.php block", test_settings_php);
    subtest("CPullOptions calls", test_php_calls);
    return done_testing();
}
