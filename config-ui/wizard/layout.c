/* The page frame (see layout.h). */
#include "layout.h"

#include "html.h"
#include "reply.h"

#include <string.h>

#ifndef PULLBOX_VERSION
#define PULLBOX_VERSION "dev" /* the Makefile passes ../VERSION */
#endif

struct nav_item {
    const char *path;
    const char *label;
};

/* In the order an admin sets the appliance up. */
static const struct nav_item layout_nav[] = {
    {"/network", "Network"},           {"/site", "Bitrix site"},
    {"/certificates", "Certificates"}, {"/keys", "Signing key"},
    {"/firewall", "Firewall"},         {"/ssh", "SSH access"},
    {"/bitrix", "Bitrix settings"},    {"/selftest", "Self-test"},
    {"/status", "Status"},             {"/backup", "Backup and restore"},
    {"/cluster", "Cluster"},           {"/update", "Update"},
};

void layout_begin(const struct wiz *w, const char *title)
{
    html_printf("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<title>%s · Pullbox</title>\n"
                "<link rel=\"icon\" href=\"/static/favicon.svg\">\n"
                "<link rel=\"stylesheet\" href=\"/static/style.css\">\n"
                "<script src=\"/static/wizard.js\" defer></script>\n</head>\n<body>\n"
                "<header class=\"top\"><span class=\"brand\">Pullbox</span>"
                "<span class=\"sub\">queue server setup</span>",
                title);
    if (w->sess.authed)
        html_printf("<form method=\"post\" action=\"/logout\" class=\"logout\">"
                    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                    "<button type=\"submit\">Log out</button></form>",
                    w->sess.csrf);
    html_printf("</header>\n<div class=\"frame\">\n");
    if (w->sess.authed) {
        html_printf("<nav aria-label=\"Pages\"><ol>\n");
        for (size_t i = 0; i < sizeof(layout_nav) / sizeof(layout_nav[0]); i++) {
            bool here = strcmp(w->req.path, layout_nav[i].path) == 0 ||
                        (strncmp(w->req.path, layout_nav[i].path, strlen(layout_nav[i].path)) ==
                             0 &&
                         w->req.path[strlen(layout_nav[i].path)] == '/');
            if (here)
                html_printf("<li><a href=\"%s\" aria-current=\"page\">%s</a></li>\n",
                            layout_nav[i].path, layout_nav[i].label);
            else
                html_printf("<li><a href=\"%s\">%s</a></li>\n", layout_nav[i].path,
                            layout_nav[i].label);
        }
        html_printf("</ol></nav>\n");
    }
    html_printf("<main>\n<h1>%s</h1>\n", title);
}

void layout_end(void)
{
    html_printf("</main>\n</div>\n<footer>Pullbox %s · free software: licences and source packages in "
                "/usr/share/doc/pullbox/legal</footer>\n</body>\n</html>\n",
                PULLBOX_VERSION);
}

void layout_notice(const char *kind, const char *text)
{
    html_printf("<p class=\"notice %s\" role=\"status\">%s</p>\n", kind, text);
}

void layout_error_page(const struct wiz *w, int status, const char *title, const char *text)
{
    layout_begin(w, title);
    layout_notice("error", text);
    html_printf("<p><a href=\"/\">Back to the wizard</a></p>\n");
    layout_end();
    reply_send(status);
}
