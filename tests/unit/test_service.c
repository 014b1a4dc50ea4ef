/* The service registry: provide, require with versions, and its refusals. */
#include <errno.h>

#include <criterion/criterion.h>

#include <sipd/service.h>

#include "internal.h"

static const int api_v1 = 1, api_v2 = 2;

TestSuite(service, .fini = service_reset);

Test(service, require_finds_what_was_provided)
{
	const void *api = NULL;

	cr_assert_eq(sipd_service_provide("tm", 2, &api_v2), 0);
	cr_assert_eq(sipd_service_require("tm", 1, &api), 0);
	cr_assert_eq(api, &api_v2);
	cr_assert_eq(sipd_service_require("tm", 2, &api), 0, "the exact version is enough");
}

Test(service, second_provider_of_a_name_is_refused)
{
	const void *api = NULL;

	cr_assert_eq(sipd_service_provide("parser", 1, &api_v1), 0);
	cr_assert_eq(sipd_service_provide("parser", 2, &api_v2), EEXIST);
	cr_assert_eq(sipd_service_require("parser", 1, &api), 0);
	cr_assert_eq(api, &api_v1, "the first provider stays");
}

Test(service, unknown_name_is_enoent_and_leaves_api_alone)
{
	const void *api = &api_v1;

	cr_assert_eq(sipd_service_require("registrar", 1, &api), ENOENT);
	cr_assert_eq(api, &api_v1);
}

Test(service, older_version_is_eproto)
{
	const void *api = NULL;

	cr_assert_eq(sipd_service_provide("tm", 1, &api_v1), 0);
	cr_assert_eq(sipd_service_require("tm", 2, &api), EPROTO);
	cr_assert_null(api);
}

Test(service, bad_arguments_are_einval)
{
	const void *api;

	cr_assert_eq(sipd_service_provide(NULL, 1, &api_v1), EINVAL);
	cr_assert_eq(sipd_service_provide("", 1, &api_v1), EINVAL);
	cr_assert_eq(sipd_service_provide("tm", 1, NULL), EINVAL);
	cr_assert_eq(sipd_service_require(NULL, 1, &api), EINVAL);
	cr_assert_eq(sipd_service_require("tm", 1, NULL), EINVAL);
}

Test(service, reset_forgets_everything)
{
	const void *api;

	cr_assert_eq(sipd_service_provide("tm", 1, &api_v1), 0);
	service_reset();
	cr_assert_eq(sipd_service_require("tm", 1, &api), ENOENT);
	cr_assert_eq(sipd_service_provide("tm", 1, &api_v1), 0, "the name is free again");
}
