/* Unit tests for config-ui/lib/seed.c, seed_nocloud.c and yaml.c: what the
 * OVF environment and NoCloud parsers take, what they report and what they
 * refuse (byte by byte truncations included: never a crash, never a value
 * from a document that is cut short). */
#include "seed.h"
#include "yaml.h"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct seed_item *find(const struct seed *s, enum seed_what what, int setting)
{
    for (size_t i = 0; i < s->nitems; i++)
        if (s->items[i].what == what && (what != SEED_SETTING || s->items[i].setting == setting))
            return &s->items[i];
    return NULL;
}

static const char *value(const struct seed *s, enum seed_what what, int setting)
{
    const struct seed_item *it = find(s, what, setting);
    return it ? it->value : NULL;
}

static bool noted(const struct seed *s, const char *part)
{
    for (size_t i = 0; i < s->nnotes; i++)
        if (strstr(s->notes[i], part))
            return true;
    return false;
}

static bool eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* What vSphere writes (trimmed), with the OVA's properties filled in. */
static const char OVF_ENV[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Environment\n"
    "     xmlns=\"http://schemas.dmtf.org/ovf/environment/1\"\n"
    "     xmlns:oe=\"http://schemas.dmtf.org/ovf/environment/1\"\n"
    "     xmlns:ve=\"http://www.vmware.com/schema/ovfenv\"\n"
    "     oe:id=\"\" ve:vCenterId=\"vm-42\">\n"
    "   <PlatformSection>\n"
    "      <Kind>VMware ESXi</Kind>\n"
    "      <Version>8.0.0</Version>\n"
    "   </PlatformSection>\n"
    "   <!-- a comment <Property oe:key=\"hostname\" oe:value=\"no\"/> -->\n"
    "   <PropertySection>\n"
    "         <Property oe:key=\"hostname\" oe:value=\"pb-east.example.com\"/>\n"
    "         <Property oe:key=\"network.mode\" oe:value=\"static\"/>\n"
    "         <Property oe:key=\"network.address\" oe:value=\"192.0.2.10/24\"/>\n"
    "         <Property oe:key=\"network.gateway\" oe:value=\"192.0.2.1\"/>\n"
    "         <Property oe:key=\"network.dns\" oe:value=\"\"/>\n"
    "         <Property oe:key=\"site.publishers\" oe:value=\"192.0.2.20 &amp; 2001:db8::/32\"/>\n"
    "         <Property oe:value=\"ssh-ed25519 AAAAC3 admin&#64;laptop\" "
    "oe:key=\"admin.ssh-key\"/>\n"
    "         <Property oe:key='admin.password-hash' oe:value='$6$salt$hash'/>\n"
    "         <Property oe:key=\"site.signature-key\" oe:value=\"generate\"/>\n"
    "         <Property oe:key=\"vendor.other\" oe:value=\"x\"/>\n"
    "   </PropertySection>\n"
    "   <Entity oe:id=\"other-vm\">\n"
    "      <PropertySection>\n"
    "         <Property oe:key=\"site.public-name\" oe:value=\"not-mine\"/>\n"
    "      </PropertySection>\n"
    "   </Entity>\n"
    "   <ve:EthernetAdapterSection>\n"
    "      <ve:Adapter ve:mac=\"00:50:56:aa:bb:cc\" ve:network=\"VM Network\"/>\n"
    "   </ve:EthernetAdapterSection>\n"
    "</Environment>\n";

static void test_ovf(void)
{
    struct seed s;

    seed_init(&s);
    ok(seed_parse_ovf(&s, OVF_ENV, strlen(OVF_ENV)) == 0, "a vSphere ovf-env.xml parses");
    ok(eq(value(&s, SEED_SETTING, S_HOSTNAME), "pb-east.example.com"), "hostname");
    ok(eq(value(&s, SEED_SETTING, S_NET_MODE), "static") &&
           eq(value(&s, SEED_SETTING, S_NET_ADDRESS), "192.0.2.10/24") &&
           eq(value(&s, SEED_SETTING, S_NET_GATEWAY), "192.0.2.1"),
       "the static address");
    ok(find(&s, SEED_SETTING, S_NET_DNS) == NULL, "a property left blank is not a value");
    ok(eq(value(&s, SEED_SETTING, S_SITE_PUBLISHERS), "192.0.2.20 & 2001:db8::/32"),
       "&amp; is decoded (the validator will refuse the &)");
    ok(eq(value(&s, SEED_SSH_KEY, -1), "ssh-ed25519 AAAAC3 admin@laptop"),
       "numeric references, attributes in either order");
    ok(eq(value(&s, SEED_ADMIN_HASH, -1), "$6$salt$hash"), "single-quoted attributes");
    ok(eq(value(&s, SEED_SIGNATURE_KEY, -1), "generate"), "the signature key's 'generate'");
    ok(find(&s, SEED_SETTING, S_SITE_PUBLIC_NAME) == NULL,
       "a nested Entity's properties are another VM's: not taken");
    ok(noted(&s, "vendor.other: not a Pullbox setting"), "an unknown property is reported");
    ok(eq(find(&s, SEED_SETTING, S_HOSTNAME)->name, "OVF property hostname"),
       "each value says where it came from");
}

static void test_ovf_refused(void)
{
    static const char *const bad[] = {
        "<!DOCTYPE x [<!ENTITY a \"b\">]><Environment/>",
        "<Environment><PropertySection><Property oe:key=\"hostname\" oe:value=\"&a;\"/>"
        "</PropertySection></Environment>",
        "<Environment><PropertySection></Environment>",
        "<Environment></Environment><Environment></Environment>",
        "<Envelope><PropertySection/></Envelope>",
        "<Environment><PropertySection><Property oe:key=\"hostname\" oe:value=\"a<b\"/>"
        "</PropertySection></Environment>",
        "text<Environment/>",
        "<Environment><![CDATA[x]]></Environment>",
        "",
    };
    struct seed s;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        seed_init(&s);
        int rc = seed_parse_ovf(&s, bad[i], strlen(bad[i]));
        ok(rc == -1 && s.nitems == 0 && s.nnotes == 1, "a document that is not an OVF environment");
        note("  %s", s.notes[0]);
    }
    /* every truncation of a good document: never a crash, never a value
     * from a document that is not complete */
    size_t n = strlen(OVF_ENV), leaks = 0;
    for (size_t len = 0; len < n - 1; len++) {
        char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees any overread */
        memcpy(copy, OVF_ENV, len);
        seed_init(&s);
        if (seed_parse_ovf(&s, copy, len) == 0 || s.nitems > 0)
            leaks++;
        free(copy);
    }
    ok(leaks == 0, "no truncation of the document gives a value");
    char big[SETTING_VALUE_MAX + 200];
    snprintf(big, sizeof(big),
             "<Environment><PropertySection><Property oe:key=\"hostname\" "
             "oe:value=\"%0*d\"/></PropertySection></Environment>",
             SETTING_VALUE_MAX + 10, 1);
    seed_init(&s);
    ok(seed_parse_ovf(&s, big, strlen(big)) == 0 && s.nitems == 0 && noted(&s, "longer than"),
       "a value longer than a setting can be is reported, not cut");
}

static void test_yaml(void)
{
    static const char doc[] = "#cloud-config\n"
                              "a: 1 # comment\n"
                              "b: 'it''s # not a comment'\n"
                              "c: \"x\\\"y\"\n"
                              "list:\n"
                              "- one\n"
                              "-   two\n"
                              "nested:\n"
                              "  - name: n1\n"
                              "    value: v1\n"
                              "  - [p, 'q, r', \"s\"]\n"
                              "block: |\n"
                              "  text\n"
                              "  more\n"
                              "anchor: &x 5\n"
                              "after: end\n";
    char err[128];
    bool failed;
    struct yaml *y = yaml_parse(doc, strlen(doc), err, sizeof(err), &failed);

    ok(y && !failed && y->kind == YAML_MAP, "a document with every supported form parses");
    ok(eq(yaml_scalar(y, "a"), "1"), "plain scalar, comment removed");
    ok(eq(yaml_scalar(y, "b"), "it's # not a comment"), "single quotes");
    ok(eq(yaml_scalar(y, "c"), "x\"y"), "double quotes with an escape");
    const struct yaml *l = yaml_get(y, "list");
    ok(l && l->kind == YAML_SEQ && eq(l->child->text, "one") && eq(l->child->next->text, "two"),
       "a list at the key's indentation");
    const struct yaml *n = yaml_get(y, "nested");
    ok(n && n->kind == YAML_SEQ && eq(yaml_scalar(n->child, "value"), "v1"),
       "a list of mappings (- key: value)");
    const struct yaml *f = n ? n->child->next : NULL;
    ok(f && f->kind == YAML_SEQ && eq(f->child->next->text, "q, r") &&
           eq(f->child->next->next->text, "s"),
       "a flow sequence with quoted items");
    ok(yaml_get(y, "block") && yaml_get(y, "block")->kind == YAML_BAD, "a block scalar is BAD");
    ok(yaml_get(y, "anchor") && yaml_get(y, "anchor")->kind == YAML_BAD, "an anchor is BAD");
    ok(eq(yaml_scalar(y, "after"), "end"), "... and what follows them is read");
    yaml_free(y);
    static const char deeper[] = "a: 1\n  b: 2\nc: 3\n";
    y = yaml_parse(deeper, strlen(deeper), err, sizeof(err), &failed);
    ok(y && yaml_get(y, "a")->kind == YAML_BAD && eq(yaml_scalar(y, "c"), "3"),
       "a value that goes on over deeper lines is BAD, the next key is read");
    yaml_free(y);

    static const char *const broken[] = {"a:\n  b: 1\n c: 2\n", "a: 1\n- b\n", "\ta: 1\n",
                                         "a: 1\n---\nb: 2\n", "just words\nmore: x\n"};
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        y = yaml_parse(broken[i], strlen(broken[i]), err, sizeof(err), &failed);
        ok(y == NULL && failed && err[0], "a broken document is refused");
        note("  %s", err);
        yaml_free(y);
    }
}

/* What Proxmox VE writes (its user-data), with a network-config v2. */
static const char META[] = "instance-id: 3c1a2b\nlocal-hostname: from-meta\n";
static const char USER[] = "#cloud-config\n"
                           "hostname: pb-proxmox\n"
                           "manage_etc_hosts: true\n"
                           "fqdn: pb-proxmox.example.com\n"
                           "user: root\n"
                           "password: $5$abc$def\n"
                           "ssh_authorized_keys:\n"
                           "  - ssh-ed25519 AAAAC3Nz one@host\n"
                           "  - ssh-rsa AAAAB3Nz two@host\n"
                           "chpasswd:\n"
                           "  expire: False\n"
                           "users:\n"
                           "  - default\n"
                           "package_upgrade: true\n";
static const char NET[] = "network:\n"
                          "  version: 2\n"
                          "  ethernets:\n"
                          "    eth0:\n"
                          "      match:\n"
                          "        macaddress: 'bc:24:11:00:00:01'\n"
                          "      addresses:\n"
                          "        - 2001:db8::5/64\n"
                          "        - 198.51.100.5/24\n"
                          "      routes:\n"
                          "        - to: default\n"
                          "          via: 198.51.100.1\n"
                          "      nameservers:\n"
                          "        addresses: [198.51.100.53, '2001:db8::53']\n"
                          "    eth1:\n"
                          "      dhcp4: true\n";

static void test_nocloud(void)
{
    struct seed s;

    seed_init(&s);
    ok(seed_parse_nocloud(&s, META, strlen(META), USER, strlen(USER), NET, strlen(NET)) == 0,
       "a Proxmox-like seed parses");
    ok(eq(value(&s, SEED_SETTING, S_HOSTNAME), "pb-proxmox") &&
           eq(find(&s, SEED_SETTING, S_HOSTNAME)->name, "user-data hostname"),
       "user-data's hostname wins over meta-data's local-hostname");
    const struct seed_item *k1 = find(&s, SEED_SSH_KEY, -1);
    ok(k1 && eq(k1->value, "ssh-ed25519 AAAAC3Nz one@host") &&
           eq(k1[1].value, "ssh-rsa AAAAB3Nz two@host"),
       "both ssh_authorized_keys");
    ok(eq(value(&s, SEED_ADMIN_HASH, -1), "$5$abc$def"), "a hashed password is the admin's hash");
    ok(noted(&s, "not used by Pullbox: manage_etc_hosts, user, chpasswd, users, package_upgrade"),
       "the keys not used are listed once");
    ok(eq(value(&s, SEED_SETTING, S_NET_MODE), "static") &&
           eq(value(&s, SEED_SETTING, S_NET_ADDRESS), "198.51.100.5/24") &&
           eq(value(&s, SEED_SETTING, S_NET_GATEWAY), "198.51.100.1") &&
           eq(value(&s, SEED_SETTING, S_NET_DNS), "198.51.100.53 2001:db8::53"),
       "v2: the first IPv4 address, the default route, the name servers");
    ok(noted(&s, "only the first interface (eth0)"), "a second interface is reported");

    seed_init(&s);
    static const char dhcp[] = "version: 2\nethernets:\n  id0:\n    dhcp4: yes\n";
    static const char clear[] = "#cloud-config\npassword: hunter2\nhostname: [a, b]\n";
    seed_parse_nocloud(&s, META, strlen(META), clear, strlen(clear), dhcp, strlen(dhcp));
    ok(eq(value(&s, SEED_SETTING, S_NET_MODE), "dhcp"), "v2 dhcp4");
    ok(find(&s, SEED_ADMIN_HASH, -1) == NULL && noted(&s, "not a clear-text password"),
       "a clear-text password is refused");
    ok(eq(value(&s, SEED_SETTING, S_HOSTNAME), "from-meta") && noted(&s, "hostname (line 3)"),
       "a hostname that is a list is reported; meta-data's name stays");

    /* version 1, as Proxmox VE writes it */
    seed_init(&s);
    static const char v1[] = "version: 1\n"
                             "config:\n"
                             "    - type: physical\n"
                             "      name: eth0\n"
                             "      mac_address: 'bc:24:11:00:00:01'\n"
                             "      subnets:\n"
                             "      - type: static\n"
                             "        address: '203.0.113.7'\n"
                             "        netmask: '255.255.255.128'\n"
                             "        gateway: '203.0.113.1'\n"
                             "      - type: static6\n"
                             "        address: '2001:db8::7/64'\n"
                             "    - type: nameserver\n"
                             "      address:\n"
                             "      - '203.0.113.53'\n"
                             "      search:\n"
                             "      - 'example.com'\n";
    ok(seed_parse_nocloud(&s, NULL, 0, NULL, 0, v1, strlen(v1)) == 0 &&
           eq(value(&s, SEED_SETTING, S_NET_MODE), "static") &&
           eq(value(&s, SEED_SETTING, S_NET_ADDRESS), "203.0.113.7/25") &&
           eq(value(&s, SEED_SETTING, S_NET_GATEWAY), "203.0.113.1") &&
           eq(value(&s, SEED_SETTING, S_NET_DNS), "203.0.113.53"),
       "v1 (Proxmox): the static subnet with its netmask as a prefix, the name server");
    seed_init(&s);
    static const char v1bad[] = "version: 1\nconfig:\n  - type: physical\n    subnets:\n"
                                "      - type: static\n        address: 10.0.0.5\n"
                                "        netmask: 255.0.255.0\n";
    static const char v1dhcp[] =
        "version: 1\nconfig:\n- type: physical\n  subnets:\n  - type: dhcp\n";
    ok(seed_parse_nocloud(&s, NULL, 0, NULL, 0, v1bad, strlen(v1bad)) == -1 &&
           noted(&s, "without a usable netmask"),
       "v1: a netmask that is not one is reported, nothing taken");
    seed_init(&s);
    ok(seed_parse_nocloud(&s, NULL, 0, NULL, 0, v1dhcp, strlen(v1dhcp)) == 0 &&
           eq(value(&s, SEED_SETTING, S_NET_MODE), "dhcp"),
       "v1: dhcp");

    seed_init(&s);
    static const char v3[] = "version: 3\n";
    static const char script[] = "#!/bin/sh\nrm -rf /\n";
    ok(seed_parse_nocloud(&s, NULL, 0, script, strlen(script), v3, strlen(v3)) == -1 &&
           s.nitems == 0 && noted(&s, "scripts are never run") &&
           noted(&s, "version 3 is not read"),
       "a user-data script and an unknown network-config version are refused");
}

int main(void)
{
    subtest("OVF environment", test_ovf);
    subtest("OVF environment: refused", test_ovf_refused);
    subtest("YAML subset", test_yaml);
    subtest("NoCloud", test_nocloud);
    return done_testing();
}
