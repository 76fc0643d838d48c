/* /ssh: whether SSH takes the admin password or keys only. The keys
 * themselves belong to the admin account (its authorized_keys, which this
 * CGI's user cannot read) and are added on the console; the apply service
 * refuses "keys only" while there is none, so the switch cannot lock the
 * admin out of SSH. */
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "settings_form.h"
#include "wizard.h"

static const enum setting_id ssh_fields[] = {S_SSH_KEY_ONLY};

void page_ssh(struct wiz *w)
{
    static struct settings_form sf;
    size_t n = sizeof(ssh_fields) / sizeof(ssh_fields[0]);
    int submitted = settings_form_handle(&sf, w, ssh_fields, n);
    layout_begin(w, "SSH access");
    html_printf("<p>The <code>admin</code> account logs in over SSH (port 22) to the same "
                "maintenance menu as the console. SSH keys are added and removed on the console "
                "(item 10, <em>Admin password and SSH keys</em>). Once a key is in place, SSH "
                "can refuse passwords altogether: then guessing the password over the network "
                "gets nowhere. The console on the appliance's screen always takes the "
                "password.</p>\n");
    settings_form_show(&sf, w, "/ssh", ssh_fields, n, submitted);
    layout_end();
    reply_send(submitted == 0 ? 400 : 200);
}
