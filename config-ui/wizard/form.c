/* Form pieces (see form.h). */
#include "form.h"

#include "html.h"
#include "spool.h"

#include <string.h>

void form_begin(const struct wiz *w, const char *action, bool upload)
{
    if (upload)
        html_printf("<form method=\"post\" action=\"%s\" enctype=\"multipart/form-data\">\n",
                    action);
    else
        html_printf("<form method=\"post\" action=\"%s\">\n", action);
    html_printf("<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n", w->sess.csrf);
}

void form_end(const char *button)
{
    html_printf("<div class=\"actions\"><button type=\"submit\">%s</button></div>\n</form>\n",
                button);
}

static void field_tail(const char *name, const char *help, const char *err)
{
    if (help && *help)
        html_printf("<small class=\"help\" id=\"%s-help\">%s</small>\n", name, help);
    if (err && *err)
        html_printf("<strong class=\"field-error\" id=\"%s-error\" role=\"alert\">%s</strong>\n",
                    name, err);
    html_printf("</div>\n");
}

static void field_head(const char *name, const char *label, const char *err)
{
    html_printf("<div class=\"field%s\">\n<label for=\"f-%s\">%s</label>\n",
                err && *err ? " invalid" : "", name, label);
}

void form_input(const char *type, const char *name, const char *label, const char *value,
                const char *help, const char *err)
{
    field_head(name, label, err);
    const char *invalid = err && *err ? "true" : "false";
    if (strcmp(type, "textarea") == 0)
        html_printf("<textarea id=\"f-%s\" name=\"%s\" rows=\"6\" aria-describedby=\"%s-help\" "
                    "aria-invalid=\"%s\">%s</textarea>\n",
                    name, name, name, invalid, value ? value : "");
    else if (strcmp(type, "password") == 0 || strcmp(type, "file") == 0)
        html_printf("<input type=\"%s\" id=\"f-%s\" name=\"%s\" aria-describedby=\"%s-help\" "
                    "aria-invalid=\"%s\">\n",
                    type, name, name, name, invalid);
    else
        html_printf("<input type=\"%s\" id=\"f-%s\" name=\"%s\" value=\"%s\" "
                    "aria-describedby=\"%s-help\" aria-invalid=\"%s\">\n",
                    type, name, name, value ? value : "", name, invalid);
    field_tail(name, help, err);
}

void form_select(const char *name, const char *label, const char *const *choices,
                 const char *value, const char *help, const char *err)
{
    field_head(name, label, err);
    html_printf("<select id=\"f-%s\" name=\"%s\" aria-describedby=\"%s-help\">\n", name, name,
                name);
    for (size_t i = 0; choices[i]; i++)
        html_printf("<option value=\"%s\"%s>%s</option>\n", choices[i],
                    value && strcmp(value, choices[i]) == 0 ? " selected" : "", choices[i]);
    html_printf("</select>\n");
    field_tail(name, help, err);
}

void form_secret_value(const char *id, const char *label, const char *value)
{
    html_printf("<div class=\"key\"><span class=\"label\">%s</span>"
                "<code id=\"%s\" class=\"secret\">%s</code>"
                "<button type=\"button\" class=\"copy\" data-copy=\"%s\" hidden>Copy</button>"
                "</div>\n",
                label, id, value, id);
}

void form_result(const struct result *res)
{
    /* the apply service's summary may already say it */
    const char *verdict = res->ok ? "Applied." : "Not applied.";
    if (strncmp(res->message, verdict, strlen(verdict) - 1) == 0)
        verdict = "";
    html_printf("<section class=\"result %s\" aria-label=\"Result\">\n<p><strong>%s</strong> %s</p>\n",
                res->ok ? "ok" : "error", verdict, res->message);
    if (res->nsteps) {
        html_printf("<ol class=\"steps\">\n");
        for (size_t i = 0; i < res->nsteps; i++)
            html_printf("<li class=\"%s\"><span class=\"mark\">%s</span> %s%s%s</li>\n",
                        res->steps[i].ok ? "ok" : "error", res->steps[i].ok ? "done" : "failed",
                        res->steps[i].what, res->steps[i].detail[0] ? ": " : "",
                        res->steps[i].detail);
        html_printf("</ol>\n");
    }
    html_printf("</section>\n");
}
