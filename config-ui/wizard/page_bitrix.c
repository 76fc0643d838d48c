/* /bitrix: the CPullOptions values this appliance needs, derived from the
 * settings and the key (lib/cpull.c), in the three forms an admin can use:
 * the pull module's settings page, a .settings.php block, PHP calls. */
#include "appstate.h"
#include "cpull.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "secrets.h"
#include "settings.h"
#include "wizard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void cpull_writer(const struct cpull_option *o, size_t n, FILE *out);

/* A code block with its copy button, the text escaped. */
static void code_block(const char *id, cpull_writer *write, const struct cpull_option *o,
                       size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    write(o, n, f);
    fclose(f);
    html_printf("<div class=\"code-wrap\"><button type=\"button\" class=\"copy\" "
                "data-copy=\"%s\" hidden>Copy</button>\n<pre class=\"code\" id=\"%s\">",
                id, id);
    html_escape_n(text, len);
    html_printf("</pre></div>\n");
    free(text);
}

void page_bitrix(struct wiz *w)
{
    struct settings st;
    static struct secrets sec;
    static struct cpull_option opts[CPULL_MAX_OPTIONS];
    char err[256], host[128];

    layout_begin(w, "Bitrix settings");
    if (appstate_load(&st, &sec, err, sizeof(err)) < 0) {
        layout_notice("error", err);
        layout_end();
        reply_send(500);
        return;
    }
    appstate_publish_host(&st, w->req.server_addr, host, sizeof(host));
    size_t n = cpull_options(&st, &sec, host, opts, CPULL_MAX_OPTIONS);
    memset(&sec, 0, sizeof(sec));

    html_printf("<p>Give these values to the Bitrix site (module <em>Push and Pull</em>). They "
                "follow from the <a href=\"/site\">site</a>, <a href=\"/network\">network</a> "
                "and <a href=\"/keys\">key</a> pages; change them there. Use one of the three "
                "forms below.</p>\n");
    html_printf("<h2>1. In the pull module's settings page</h2>\n<p>Settings &rarr; Product "
                "settings &rarr; Module settings &rarr; Push and Pull:</p>\n"
                "<table class=\"values\" id=\"cpull-table\">\n<thead><tr><th>Field</th>"
                "<th>Value</th><th>Option</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < n; i++)
        html_printf("<tr><td>%s</td><td><code>%s</code></td><td><code>%s</code></td></tr>\n",
                    opts[i].label, opts[i].value, opts[i].name);
    html_printf("</tbody>\n</table>\n");

    html_printf("<h2>2. In <code>bitrix/.settings.php</code></h2>\n<p>Put this entry into the "
                "array the file returns (it replaces a <code>'pull'</code> entry already "
                "there):</p>\n");
    code_block("settings-php", cpull_write_settings_php, opts, n);
    html_printf("<h2>3. As PHP calls</h2>\n<p>Run once in <em>Settings &rarr; Tools &rarr; PHP "
                "command line</em>:</p>\n");
    code_block("php-calls", cpull_write_php_calls, opts, n);
    memset(opts, 0, sizeof(opts));
    layout_end();
    reply_send(200);
}
