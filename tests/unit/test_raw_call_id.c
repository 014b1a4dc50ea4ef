/* sipd_raw_call_id: the Call-ID of a message before parsing, as transports read it to keep calls in order. */
#include <criterion/criterion.h>
#include <string.h>

#include <sipd/transport.h>

static struct sipd_str of(const char *msg)
{
	return sipd_raw_call_id(msg, strlen(msg));
}

static void expect(const char *msg, const char *want)
{
	struct sipd_str v = of(msg);

	cr_assert_not_null(v.p, "no Call-ID found in %s", msg);
	cr_assert_eq(v.len, strlen(want), "got '%.*s', want '%s'", (int)v.len, v.p, want);
	cr_assert_eq(memcmp(v.p, want, v.len), 0, "got '%.*s', want '%s'", (int)v.len, v.p, want);
}

Test(raw_call_id, full_name_in_a_request)
{
	expect("INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: abc@host\r\n"
	       "CSeq: 1 INVITE\r\n\r\n",
	       "abc@host");
}

Test(raw_call_id, compact_name_any_case_and_spacing)
{
	expect("SIP/2.0 180 Ringing\r\nv: SIP/2.0/UDP h\r\ni:x1\r\n\r\n", "x1");
	expect("SIP/2.0 200 OK\r\nI  :\t y2 \t\r\n\r\n", "y2");
	expect("BYE sip:a@x SIP/2.0\r\ncall-id: lower\r\n\r\n", "lower");
	expect("BYE sip:a@x SIP/2.0\ncAlL-iD: bare-lf\n\n", "bare-lf");
}

Test(raw_call_id, lookalike_headers_are_not_it)
{
	expect("MESSAGE sip:a@x SIP/2.0\r\nCall-Info: <http://x>\r\nCall-IDx: no\r\nid: no\r\n"
	       "Contact: <sip:c@x>\r\nCall-ID: yes\r\n\r\n",
	       "yes");
}

Test(raw_call_id, the_body_and_the_start_line_are_not_searched)
{
	cr_assert_null(of("Call-ID: start-line\r\nVia: x\r\n\r\nCall-ID: in-body\r\n").p);
	cr_assert_null(of("OPTIONS sip:a@x SIP/2.0\r\nVia: x\r\n").p);
	cr_assert_null(of("").p);
	cr_assert_null(of("no line end at all").p);
}

Test(raw_call_id, a_message_cut_inside_the_value)
{
	expect("ACK sip:a@x SIP/2.0\r\nCall-ID: cut", "cut");
	cr_assert_eq(of("ACK sip:a@x SIP/2.0\r\nCall-ID:").len, 0);
}
