/* /selftest: the Bitrix site checker's round trip and a WebSocket delivery
 * against the appliance's own ports (lib/selftest.c), each step in words.
 * It publishes a test message, so it runs on a POST. */
#include "appstate.h"
#include "form.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "secrets.h"
#include "selftest.h"
#include "settings.h"
#include "wizard.h"

#include <string.h>

#define SELFTEST_HOST "127.0.0.1"
#define SELFTEST_PORT_SUB 8893
#define SELFTEST_PORT_SUB_TLS 8894
#define SELFTEST_PORT_PUB 8895
#define SELFTEST_STEP_TIMEOUT 5.0

void page_selftest(struct wiz *w)
{
    struct selftest_step steps[SELFTEST_MAX_STEPS];
    size_t n = 0, good = 0;
    char err[256];

    layout_begin(w, "Self-test");
    html_printf("<p>Runs what the Bitrix site checker does against this appliance's own ports: "
                "a subscriber waits on port %d, a message is published on port %d and must "
                "arrive; the same over WebSocket and over TLS on port %d.</p>\n",
                SELFTEST_PORT_SUB, SELFTEST_PORT_PUB, SELFTEST_PORT_SUB_TLS);
    if (w->post) {
        struct settings st;
        static struct secrets sec;
        if (appstate_load(&st, &sec, err, sizeof(err)) < 0) {
            layout_notice("error", err);
        } else {
            struct selftest_opts o = {
                .host = SELFTEST_HOST,
                .subscribe_port = SELFTEST_PORT_SUB,
                .subscribe_tls_port = SELFTEST_PORT_SUB_TLS,
                .publish_port = SELFTEST_PORT_PUB,
                .signature_key = sec.signature_key,
                .signature_algo = st.v[S_SITE_SIGNATURE_ALGO],
                .timeout = SELFTEST_STEP_TIMEOUT,
            };
            n = selftest_run(&o, steps, SELFTEST_MAX_STEPS);
            memset(&sec, 0, sizeof(sec));
        }
        for (size_t i = 0; i < n; i++)
            good += steps[i].ok;
        if (n)
            layout_notice(good == n ? "ok" : "error",
                          good == n ? "Every step passed: the queue server works."
                                    : "Some steps failed: see below what to check.");
        html_printf("<ol class=\"steps\" id=\"selftest-steps\">\n");
        for (size_t i = 0; i < n; i++)
            html_printf("<li class=\"%s\"><span class=\"mark\">%s</span> %s: %s</li>\n",
                        steps[i].ok ? "ok" : "error", steps[i].ok ? "OK" : "FAILED",
                        steps[i].what, steps[i].detail);
        html_printf("</ol>\n");
    }
    form_begin(w, "/selftest", false);
    form_end(w->post ? "Run the self-test again" : "Run the self-test");
    layout_end();
    reply_send(200);
}
