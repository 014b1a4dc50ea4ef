/* Limits and framing: size, header count, line and URI length, stream frame lengths. */
#include <criterion/criterion.h>
#include <errno.h>

#include "corpus.h"

static struct parser_limits saved;

static void save(void)
{
	saved = parser_limits;
}

static void restore(void)
{
	parser_limits = saved;
}

TestSuite(limits, .init = save, .fini = restore);

static int parse_len(const char *s, size_t len, const char **why)
{
	struct sipd_msg *m = NULL;
	int err = parser_parse(&m, s, len, NULL, why);

	parser_free(m);
	return err;
}

static const char base[] = "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nX-A: 1\r\nX-B: 2\r\n\r\n";

Test(limits, configured_limits_apply)
{
	const char *why = NULL;

	cr_expect_eq(parse_len(base, strlen(base), &why), 0);
	parser_limits.max_headers = 2;
	cr_expect_eq(parse_len(base, strlen(base), &why), EMSGSIZE);
	cr_expect_str_eq(why, "Too many headers");
	parser_limits = saved;
	parser_limits.max_message_size = 40;
	cr_expect_eq(parse_len(base, strlen(base), &why), EMSGSIZE);
	parser_limits = saved;
	parser_limits.max_line_length = 16;
	cr_expect_eq(parse_len(base, strlen(base), &why), EMSGSIZE);
	parser_limits = saved;
	parser_limits.max_uri_length = 4;
	cr_expect_eq(parse_len(base, strlen(base), &why), EMSGSIZE);
	cr_expect_str_eq(why, "Request-URI too long");
}

Test(limits, never_reads_past_the_buffer)
{
	char *copy;
	size_t i, n = strlen(base);
	const char *why;

	/* every prefix, in a buffer of exactly that size (ASan catches overreads) */
	for (i = 0; i <= n; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, base, i);
		parse_len(copy, i, &why);
		cr_expect_geq(parser_frame_length(copy, i, 65536, &why), -1);
		free(copy);
	}
}

Test(limits, many_headers_and_commas_are_linear)
{
	size_t n = 60000, len = 0, i;
	char *buf = malloc(n * 4 + 200);
	struct sipd_msg *m;
	const struct sipd_tokens *t;
	const struct sipd_via *v;
	const char *why;

	parser_limits.max_message_size = 1 << 20;
	parser_limits.max_line_length = 1 << 20;
	len += (size_t)sprintf(buf, "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;a;b\r\nSupported: a");
	for (i = 0; i < n; i++)
		buf[len++] = ',', buf[len++] = 'b';
	len += (size_t)sprintf(buf + len, "\r\n\r\n");
	cr_assert_eq(parser_parse(&m, buf, len, NULL, &why), 0);
	cr_assert_eq(sipd_msg_hdr(m, m->h_supported, (const void **)&t), 0);
	cr_expect_eq(t->count, n + 1);
	cr_expect_eq(sipd_msg_via(m, &v), 0);
	parser_free(m);
	free(buf);
}

Test(limits, frame_length)
{
	static const char msg[] = "INVITE sip:a@h SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nl: 4\r\n\r\nbody"
				  "OPTIONS sip:a@h SIP/2.0\r\n";
	static const char folded[] = "OPTIONS sip:a@h SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nok";
	const char *why = NULL;
	size_t head = strlen(msg) - strlen("bodyOPTIONS sip:a@h SIP/2.0\r\n");

	cr_expect_eq(parser_frame_length(msg, 10, 65536, &why), 0);
	cr_expect_eq(parser_frame_length(msg, head + 2, 65536, &why), 0);
	cr_expect_eq(parser_frame_length(msg, head + 4, 65536, &why), (long)head + 4);
	cr_expect_eq(parser_frame_length(msg, strlen(msg), 65536, &why), (long)head + 4);
	cr_expect_eq(parser_frame_length(folded, strlen(folded), 65536, &why), (long)strlen(folded));
	cr_expect_eq(parser_frame_length("\r\n\r\nOPTIONS x SIP/2.0\r\nl: 0\r\n\r\n", 31, 65536, &why), 31);
	cr_expect_eq(parser_frame_length("OPTIONS x SIP/2.0\r\nVia: x\r\n\r\n", 29, 65536, &why), -1);
	cr_expect_str_eq(why, "Missing Content-Length header");
	cr_expect_eq(parser_frame_length("OPTIONS x SIP/2.0\r\nl: -1\r\n\r\n", 28, 65536, &why), -1);
	cr_expect_eq(parser_frame_length("OPTIONS x SIP/2.0\r\nl: 100000\r\n\r\n", 32, 65536, &why), -1);
	cr_expect_str_eq(why, "Message too large");
	cr_expect_eq(parser_frame_length("OPTIONS x SIP/2.0\r\nX: aaaaaaaaaaaaaaaa", 37, 20, &why), -1);
}

Test(limits, stream_needs_terminated_headers)
{
	struct sipd_rcvinfo ri = {.proto = SIPD_PROTO_TCP};
	static const char msg[] = "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n";
	struct sipd_msg *m = NULL;
	const char *why = NULL;

	cr_expect_eq(parser_parse(&m, msg, strlen(msg), &ri, &why), EBADMSG);
	cr_expect_str_eq(why, "Unterminated header block");
	ri.proto = SIPD_PROTO_UDP;
	cr_expect_eq(parser_parse(&m, msg, strlen(msg), &ri, &why), 0);
	parser_free(m);
}
