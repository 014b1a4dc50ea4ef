/* modules.conf reading: every setting, defaults, and each class of error with its file:line. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sipd/module.h>

#include "internal.h"

#define CONF(name) SIPD_TEST_DATA "/config/" name

static struct core_config cfg;
static char err[1024];

static void teardown(void)
{
	config_free(&cfg);
}

TestSuite(config, .fini = teardown);

Test(config, reads_every_core_setting)
{
	cr_assert_eq(config_load(&cfg, CONF("good.conf"), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.listen_count, 3);
	cr_assert_str_eq(cfg.listen[0], "udp:127.0.0.1:5062");
	cr_assert_str_eq(cfg.listen[1], "tcp:[::1]:5062");
	cr_assert_eq(cfg.alias_count, 2);
	cr_assert_str_eq(cfg.aliases[1], "[2001:db8::1]");
	cr_assert_eq(cfg.workers, 3);
	cr_assert_str_eq(cfg.database, "/var/lib/sipd/sipd.db");
	cr_assert_str_eq(cfg.log_level, "debug");
	cr_assert_str_eq(cfg.log_target, "syslog");
	cr_assert_str_eq(cfg.control_socket, "/tmp/sipd-test.ctl");
	cr_assert_eq(cfg.db_commit_interval, 5);
}

Test(config, resolves_relative_paths_against_the_config_directory)
{
	cr_assert_eq(config_load(&cfg, CONF("good.conf"), err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.routing, CONF("routes/main.cfg"));
	cr_assert_str_eq(cfg.module_path, CONF("mods"));
}

Test(config, keeps_disabled_modules_in_the_list)
{
	cr_assert_eq(config_load(&cfg, CONF("good.conf"), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.module_count, 3);
	cr_assert_str_eq(cfg.modules[0].name, "parser");
	cr_assert(cfg.modules[0].enabled);
	cr_assert_str_eq(cfg.modules[2].name, "webadmin");
	cr_assert_not(cfg.modules[2].enabled);
	cr_assert_eq(cfg.modules[2].line, 17);
	cr_assert_str_eq(cfg.modules[2].file, CONF("good.conf"));
}

Test(config, defaults_when_core_is_absent)
{
	cr_assert_eq(config_load(&cfg, CONF("minimal.conf"), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.listen_count, 2);
	cr_assert_str_eq(cfg.listen[0], "udp:0.0.0.0:5060");
	cr_assert_str_eq(cfg.listen[1], "tcp:0.0.0.0:5060");
	cr_assert_eq(cfg.alias_count, 0);
	cr_assert_geq(cfg.workers, 1, "workers 0 resolves to the CPU count");
	cr_assert_str_eq(cfg.routing, CONF("routing.cfg"));
	cr_assert_str_eq(cfg.database, CONF("sipd.db"));
	cr_assert_str_eq(cfg.log_level, "info");
	cr_assert_str_eq(cfg.log_target, "stderr");
	cr_assert_str_eq(cfg.control_socket, "/run/sipd/sipd.ctl");
	cr_assert_null(cfg.module_path);
	cr_assert_eq(cfg.db_commit_interval, 20, "20 ms between group commits by default");
}

/* Each failing load must leave cfg empty and say file:line plus what was expected. */
static void expect_error(const char *file, int want_ret, const char *want)
{
	struct core_config c = {0};
	int ret = config_load(&c, file, err, sizeof(err));

	cr_assert_eq(ret, want_ret, "%s: got %d (%s)", file, ret, err);
	cr_assert_not_null(strstr(err, want), "message '%s' lacks '%s'", err, want);
	cr_assert_null(c.path, "out must stay untouched on error");
}

Test(config, missing_file)
{
	expect_error(CONF("no-such.conf"), ENOENT, "no-such.conf: cannot read: No such file or directory");
}

Test(config, syntax_error_names_file_and_line)
{
	expect_error(CONF("syntax.conf"), EINVAL, "syntax.conf:3: syntax error");
}

Test(config, wrong_type_names_line_and_expected_type)
{
	expect_error(CONF("wrongtype.conf"), EINVAL, "wrongtype.conf:4: core.workers expects an integer");
}

Test(config, unknown_core_key_lists_the_known_ones)
{
	expect_error(CONF("unknownkey.conf"), EINVAL,
		     "unknownkey.conf:4: unknown setting 'lisen' in core; expected one of listen, aliases");
}

Test(config, bad_listen_protocol_names_the_element_line)
{
	expect_error(CONF("badlisten.conf"), EINVAL,
		     "badlisten.conf:4: core.listen 'sctp:127.0.0.1:5060': unknown protocol 'sctp'");
}

Test(config, bad_listen_port)
{
	expect_error(
	    CONF("badport.conf"), EINVAL,
	    "badport.conf:2: core.listen 'udp:127.0.0.1:70000': port '70000' is not a number from 1 to "
	    "65535");
}

Test(config, unknown_top_level_setting)
{
	expect_error(CONF("toplevel.conf"), EINVAL,
		     "toplevel.conf:2: unknown top-level setting 'module'; expected core or modules");
}

Test(config, module_entry_without_name)
{
	expect_error(CONF("noname.conf"), EINVAL, "noname.conf:3: module entry needs name = \"<module>\";");
}

Test(config, commit_interval_out_of_range)
{
	expect_error(CONF("badcommit.conf"), EINVAL,
		     "badcommit.conf:3: core.db_commit_interval expects milliseconds from 0 to 1000");
}

Test(config, unknown_log_level)
{
	expect_error(CONF("badlevel.conf"), EINVAL, "badlevel.conf:2: core.log_level 'verbose' is unknown");
}

/* A stand-in for a module descriptor: params are what config_apply_params reads. */
static int p_count;
static const char *p_greeting;
static bool p_verbose;
static const char *const *p_tags;

static const struct sipd_param_def fake_params[] = {
    {.name = "count", .type = SIPD_PARAM_INT, .var = &p_count, .min = 1, .max = 10},
    {.name = "greeting", .type = SIPD_PARAM_STR, .var = &p_greeting},
    {.name = "verbose", .type = SIPD_PARAM_BOOL, .var = &p_verbose},
    {.name = "tags", .type = SIPD_PARAM_STR_LIST, .var = &p_tags},
    {.name = NULL},
};

static const struct sipd_module fake = {
    SIPD_MODULE_HEADER,
    .name = "fake",
    .params = fake_params,
};

static const struct core_module_entry *entry(const char *name)
{
	for (unsigned i = 0; i < cfg.module_count; i++)
		if (strcmp(cfg.modules[i].name, name) == 0)
			return &cfg.modules[i];
	cr_assert_fail("no entry %s", name);
	return NULL;
}

static void apply_fails(const char *name, const char *want)
{
	int ret = config_apply_params(&cfg, entry(name), &fake, err, sizeof(err));

	cr_assert_eq(ret, EINVAL, "%s: got %d (%s)", name, ret, err);
	cr_assert_not_null(strstr(err, want), "message '%s' lacks '%s'", err, want);
}

Test(config, params_of_every_type_are_converted)
{
	cr_assert_eq(config_load(&cfg, CONF("params.conf"), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_apply_params(&cfg, entry("fake"), &fake, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p_count, 5);
	cr_assert_str_eq(p_greeting, "hi");
	cr_assert(p_verbose);
	cr_assert_str_eq(p_tags[0], "a");
	cr_assert_str_eq(p_tags[1], "b");
	cr_assert_null(p_tags[2]);
	cr_assert_eq(config_apply_params(&cfg, entry("fake_single"), &fake, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(p_tags[0], "only");
	cr_assert_null(p_tags[1]);
}

Test(config, param_errors_name_line_module_and_expectation)
{
	cr_assert_eq(config_load(&cfg, CONF("params.conf"), err, sizeof(err)), 0, "%s", err);
	apply_fails("fake_type", "params.conf:5: module 'fake_type': parameter 'count' expects an integer");
	apply_fails(
	    "fake_unknown",
	    "params.conf:7: module 'fake_unknown': unknown parameter 'colour'; expected one of count, "
	    "greeting, verbose, tags");
	apply_fails("fake_range",
		    "params.conf:9: module 'fake_range': parameter 'count' must be from 1 to 10, "
		    "not 11");
	apply_fails("fake_bool",
		    "params.conf:11: module 'fake_bool': parameter 'verbose' expects true or false");
	apply_fails("fake_list",
		    "params.conf:13: module 'fake_list': parameter 'tags' expects a list of strings");
}

Test(config, module_without_params_refuses_any)
{
	static const struct sipd_module bare = {SIPD_MODULE_HEADER, .name = "bare"};

	cr_assert_eq(config_load(&cfg, CONF("params.conf"), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_apply_params(&cfg, entry("fake_unknown"), &bare, err, sizeof(err)), EINVAL);
	cr_assert_not_null(strstr(err, "unknown parameter 'colour'; the module takes no parameters"), "%s",
			   err);
}
