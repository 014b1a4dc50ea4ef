/* Unit tests: the Origin allow-list and the "sip" subprotocol offer (handshake.c). */
#include <criterion/criterion.h>

#include "ws.h"

Test(origin, default_is_the_web_admin_only)
{
	cr_assert(ws_origin_allowed(NULL, "http://127.0.0.1:8080"));
	cr_assert(ws_origin_allowed(NULL, "https://localhost:8080"));
	cr_assert(ws_origin_allowed(NULL, "HTTP://LOCALHOST:8080"));
	cr_assert_not(ws_origin_allowed(NULL, "http://127.0.0.1:8081"));
	cr_assert_not(ws_origin_allowed(NULL, "http://evil.example"));
	cr_assert_not(ws_origin_allowed(NULL, "http://127.0.0.1:8080.evil.example"));
	cr_assert_not(ws_origin_allowed(NULL, "null"));
	cr_assert_not(ws_origin_allowed(NULL, ""));
}

Test(origin, absent_origin_is_a_native_client)
{
	cr_assert(ws_origin_allowed(NULL, NULL));
}

Test(origin, configured_list_and_wildcard)
{
	const char *const list[] = {"https://phone.example.com", NULL};
	const char *const any[] = {"https://phone.example.com", "*", NULL};
	const char *const none[] = {NULL};

	cr_assert(ws_origin_allowed(list, "https://phone.example.com"));
	cr_assert_not(ws_origin_allowed(list, "http://phone.example.com"));
	cr_assert_not(ws_origin_allowed(list, "http://127.0.0.1:8080"));
	cr_assert(ws_origin_allowed(any, "http://anything"));
	cr_assert_not(ws_origin_allowed(none, "http://127.0.0.1:8080"));
}

Test(subprotocol, sip_among_the_offers)
{
	cr_assert(ws_offers_sip("sip"));
	cr_assert(ws_offers_sip("chat, sip"));
	cr_assert(ws_offers_sip(" sip ,chat"));
	cr_assert(ws_offers_sip("chat,\tsip"));
}

Test(subprotocol, no_sip)
{
	cr_assert_not(ws_offers_sip(NULL));
	cr_assert_not(ws_offers_sip(""));
	cr_assert_not(ws_offers_sip("chat"));
	cr_assert_not(ws_offers_sip("sips"));
	cr_assert_not(ws_offers_sip("SIP"));
	cr_assert_not(ws_offers_sip("xsip, sip2"));
	cr_assert_not(ws_offers_sip(","));
}
