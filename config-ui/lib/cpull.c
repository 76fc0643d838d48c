/* The CPullOptions values for this appliance, derived from the settings and
 * the signing key (docs/protocol.md §1.1, §5.2). */
#include "cpull.h"

#include "secrets.h"
#include "settings.h"

#include <stdarg.h>
#include <string.h>

/* "host" or "[v6]" as it stands in a URL. */
static void url_host(const char *h, char *out, size_t outlen)
{
    if (strchr(h, ':'))
        snprintf(out, outlen, "[%.280s]", h);
    else
        snprintf(out, outlen, "%.280s", h);
}

__attribute__((format(printf, 5, 6))) static void add(struct cpull_option *out, size_t max,
                                                      size_t *n, const char *name_label_setter[3],
                                                      const char *fmt, ...)
{
    va_list ap;
    struct cpull_option *o;

    if (*n >= max)
        return;
    o = &out[(*n)++];
    o->name = name_label_setter[0];
    o->label = name_label_setter[1];
    o->setter = name_label_setter[2];
    va_start(ap, fmt);
    vsnprintf(o->value, sizeof(o->value), fmt, ap);
    va_end(ap);
}

#define OPT(name, label, setter) ((const char *[3]){name, label, setter})

size_t cpull_options(const struct settings *st, const struct secrets *sec, const char *publish_host,
                     struct cpull_option *out, size_t max)
{
    char pub[300], pubname[300];
    const char *version = st->v[S_SITE_VERSION];
    size_t n = 0;

    url_host(publish_host && publish_host[0] ? publish_host : "127.0.0.1", pub, sizeof(pub));
    /* clients reach the appliance by its public name; until one is set,
     * by the address the site publishes to */
    url_host(st->v[S_SITE_PUBLIC_NAME][0]
                 ? st->v[S_SITE_PUBLIC_NAME]
                 : (publish_host && publish_host[0] ? publish_host : "127.0.0.1"),
             pubname, sizeof(pubname));
    add(out, max, &n, OPT("nginx", "Use Push server", "SetQueueServerStatus"), "Y");
    add(out, max, &n, OPT("nginx_version", "Push server version", "SetQueueServerVersion"), "%s",
        version);
    add(out, max, &n, OPT("path_to_publish", "Path for publishing commands", "SetPublishUrl"),
        "http://%s:8895/bitrix/pub/", pub);
    if (strcmp(version, "5") == 0)
        add(out, max, &n,
            OPT("path_to_json_rpc", "Path for JSON-RPC commands (version 5)", "SetJsonRpcUrl"),
            "http://%s:8895/bitrix/api/", pub);
    add(out, max, &n,
        OPT("path_to_modern_listener", "Path for reading commands (HTTP)", "SetListenUrl"),
        "http://%s:8893/bitrix/sub/", pubname);
    add(out, max, &n,
        OPT("path_to_modern_listener_secure", "Path for reading commands (HTTPS)",
            "SetListenSecureUrl"),
        "https://%s:8894/bitrix/sub/", pubname);
    add(out, max, &n,
        OPT("path_to_websocket", "Path for reading commands over WebSocket (HTTP)",
            "SetWebSocketUrl"),
        "ws://%s:8893/bitrix/subws/", pubname);
    add(out, max, &n,
        OPT("path_to_websocket_secure", "Path for reading commands over WebSocket (HTTPS)",
            "SetWebSocketSecureUrl"),
        "wss://%s:8894/bitrix/subws/", pubname);
    add(out, max, &n,
        OPT("path_to_publish_web", "Path for publishing commands from the browser (HTTP)",
            "SetPublishWebUrl"),
        "http://%s:8893/bitrix/rest/", pubname);
    add(out, max, &n,
        OPT("path_to_publish_web_secure", "Path for publishing commands from the browser (HTTPS)",
            "SetPublishWebSecureUrl"),
        "https://%s:8894/bitrix/rest/", pubname);
    add(out, max, &n, OPT("websocket", "Use WebSocket", "SetWebSocket"), "Y");
    add(out, max, &n, OPT("enable_protobuf", "Use protobuf", NULL), "Y");
    add(out, max, &n, OPT("signature_key", "Signature key for the Push server", "SetSignatureKey"),
        "%s", sec ? sec->signature_key : "");
    add(out, max, &n, OPT("signature_algo", "Signature algorithm", NULL), "%s",
        st->v[S_SITE_SIGNATURE_ALGO]);
    return n;
}

/* A PHP single-quoted string: only ' and \ need a backslash. */
static void php_string(const char *s, FILE *out)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('\'', out);
}

void cpull_write_settings_php(const struct cpull_option *o, size_t n, FILE *out)
{
    fputs("'pull' => array(\n  'value' => array(\n", out);
    for (size_t i = 0; i < n; i++) {
        fputs("    ", out);
        php_string(o[i].name, out);
        fputs(" => ", out);
        php_string(o[i].value, out);
        fputs(",\n", out);
    }
    fputs("  ),\n  'readonly' => false,\n),\n", out);
}

void cpull_write_php_calls(const struct cpull_option *o, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        if (o[i].setter) {
            fprintf(out, "CPullOptions::%s(", o[i].setter);
            php_string(o[i].value, out);
            fputs(");\n", out);
        } else {
            fputs("COption::SetOptionString('pull', ", out);
            php_string(o[i].name, out);
            fputs(", ", out);
            php_string(o[i].value, out);
            fputs(");\n", out);
        }
    }
    fputs("CPullOptions::SetConfigTimestamp();\n", out);
}
