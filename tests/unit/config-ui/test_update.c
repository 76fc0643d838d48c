/* Unit tests for config-ui/lib/update.c: the bundle names root accepts
 * from a tool (never a path), the sources, and the parsing of
 * `pullbox-update status`. */
#include "update.h"

#include "spool.h"
#include "tap.h"

#include <string.h>

static void test_names(void)
{
    static const char *const good[] = {"pullbox-0.2.0.pbu", "upload.pbu", "a.pbu", "X_1-2.pbu"};
    static const char *const bad[] = {
        "",           ".pbu",  "../x.pbu",  "a/b.pbu", "/data/x.pbu", ".hidden.pbu", "-rf.pbu",
        "x.pbu.part", "x.PBU", "x pbu.pbu", "x\n.pbu", "x.pbu/",      "_x.pbu",      "x.tar",
    };
    char long_name[UPDATE_NAME_MAX + 2];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!ok(update_name_valid(good[i]), "a plain bundle name is accepted"))
            note("%s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (!ok(!update_name_valid(bad[i]), "a path, a hidden or a non-.pbu name is refused"))
            note("\"%s\"", bad[i]);
    ok(!update_name_valid(NULL), "no name is refused");
    memset(long_name, 'a', sizeof(long_name));
    strcpy(long_name + UPDATE_NAME_MAX - 4, ".pbu");
    ok(update_name_valid(long_name), "a name of UPDATE_NAME_MAX bytes is accepted");
    memset(long_name, 'a', sizeof(long_name));
    strcpy(long_name + UPDATE_NAME_MAX - 3, ".pbu");
    ok(!update_name_valid(long_name), "one byte more is refused");
}

static void test_sources(void)
{
    ok(strcmp(update_source_dir("upload"), PATH_UPDATE_UPLOAD) == 0 &&
           strcmp(update_source_dir("home"), PATH_UPDATE_HOME) == 0 &&
           strcmp(update_source_dir("data"), PATH_UPDATE_DATA) == 0,
       "the three sources map to their fixed folders");
    ok(!update_source_dir("etc") && !update_source_dir("") && !update_source_dir(NULL) &&
           !update_source_dir("/tmp"),
       "any other source is unknown");
}

static void test_status(void)
{
    struct update_status st;
    const char *text = "slot=b\nversion=0.2.0\nother-slot=a\nother-version=0.1.0\n"
                       "state=trial\nmessage=installed 0.2.0; trying it\nfuture=ignored\n";
    ok(update_status_parse(text, strlen(text), &st) == 6 && strcmp(st.slot, "b") == 0 &&
           strcmp(st.version, "0.2.0") == 0 && strcmp(st.other_slot, "a") == 0 &&
           strcmp(st.other_version, "0.1.0") == 0 && strcmp(st.state, "trial") == 0 &&
           strcmp(st.message, "installed 0.2.0; trying it") == 0,
       "status: every key of the contract, an unknown one ignored");
    text = "slot=a\nother-version=\nmessage=a\tb\n";
    ok(update_status_parse(text, strlen(text), &st) == 3 && st.other_version[0] == '\0' &&
           st.message[0] == '\0',
       "status: an empty value stays empty, one with a control character is dropped");
    char big[600];
    snprintf(big, sizeof(big), "message=%0500d", 7);
    ok(update_status_parse(big, strlen(big), &st) == 1 &&
           strlen(st.message) == sizeof(st.message) - 1,
       "status: a long value is cut to its field");
    ok(update_status_parse("no lines here", 13, &st) == 0, "status: text without keys finds none");
    ok(strstr(update_state_words("rolled-back"), "rolled back") != NULL &&
           strcmp(update_state_words("bogus"), "unknown") == 0,
       "status: the state in words");
}

static void test_result_step(void)
{
    struct result res;
    memset(&res, 0, sizeof(res));
    res.nsteps = 2;
    strcpy(res.steps[0].what, "verify");
    strcpy(res.steps[1].what, UPDATE_STEP_REFUSED);
    strcpy(res.steps[1].detail, "downgrade");
    ok(strcmp(update_result_step(&res, UPDATE_STEP_REFUSED), "downgrade") == 0 &&
           strcmp(update_result_step(&res, "install"), "") == 0,
       "a result's step by name; \"\" when absent");
}

int main(void)
{
    test_names();
    test_sources();
    test_status();
    test_result_step();
    return done_testing();
}
