/* libFuzzer target: parse, touch every accessor, check, edit, serialize, reply, clone. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>

#include "parser_int.h"

static void touch_headers(struct sipd_msg *m)
{
	const struct sipd_nameaddr *na;
	const struct sipd_via *v;
	const struct sipd_uri *u;
	const void *any;
	size_t sum = 0;
	unsigned i;

	for (i = 0; i < m->hdr_count; i++) {
		if (sipd_msg_hdr(m, &m->hdrs[i], &any) != 0)
			continue;
		switch (m->hdrs[i].type) {
		case SIPD_HDR_VIA:
			for (v = any; v; v = v->next)
				sum += v->host.len + v->branch.len + v->params.len;
			break;
		case SIPD_HDR_FROM:
		case SIPD_HDR_TO:
		case SIPD_HDR_CONTACT:
		case SIPD_HDR_ROUTE:
		case SIPD_HDR_RECORD_ROUTE:
		case SIPD_HDR_PATH:
		case SIPD_HDR_REFER_TO:
			for (na = any; na; na = na->next)
				sum += na->uri.raw.len + na->display.len + na->tag.len;
			break;
		default:
			break;
		}
	}
	if (m->is_request && sipd_msg_ruri(m, &u) == 0)
		sum += u->host.len;
	/* keep the walk from being optimized away */
	if (sum == (size_t)-1)
		abort();
}

static void edit_and_serialize(struct sipd_msg *m)
{
	struct sipd_msg *again = NULL, *c = NULL;
	struct sipd_str out, out2;
	const char *why;
	int err;

	(void)parser_via_mark_received(m);
	(void)parser_via_push(m, SIPD_STR("SIP/2.0/UDP 192.0.2.200:5060;branch=z9hG4bK-fuzz"));
	(void)parser_hdr_append(m, SIPD_STR("Record-Route"), SIPD_STR("<sip:192.0.2.200;lr>"));
	if (m->is_request)
		(void)parser_set_ruri(m, SIPD_STR("sip:fuzz@192.0.2.201:5070"));
	if (m->hdr_count)
		(void)parser_hdr_remove(m, &m->hdrs[0]);
	if (m->hdr_count > 1)
		(void)parser_hdr_replace(m, &m->hdrs[m->hdr_count - 1], SIPD_STR("replaced"));
	if (m->h_max_forwards)
		(void)parser_hdr_replace(m, m->h_max_forwards, SIPD_STR("69"));
	(void)parser_set_body(m, SIPD_STR("text/plain"), SIPD_STR("fuzz"));
	if (parser_serialize(m, &out) != 0)
		return;
	/* what we write must parse again */
	err = parser_parse(&again, out.p, out.len, NULL, &why);
	if (err != 0 && err != EMSGSIZE)
		abort();
	parser_free(again);
	if (parser_clone(&c, m) == 0) {
		if (parser_serialize(c, &out2) != 0 || !sipd_str_eq(out, out2))
			abort();
		parser_free(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sipd_rcvinfo ri;
	struct sipd_str unsupported, out;
	const char *why, *reason;
	struct sipd_msg *m = NULL;
	char *buf;

	if (!ri.proto) {
		sipd_support_option("timer");
		ri.proto = SIPD_PROTO_UDP;
		ri.src.sin.sin_family = AF_INET;
		ri.src.sin.sin_port = htons(5099);
		inet_pton(AF_INET, "198.51.100.1", &ri.src.sin.sin_addr);
	}
	/* an exact-size copy so ASan sees any read past the end */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	(void)parser_frame_length(buf, size, 65536, &why);
	/* What the transports read before parsing, to keep each call's messages in order. */
	(void)sipd_raw_call_id(buf, size);
	if (parser_parse(&m, buf, size, &ri, &why) == 0) {
		touch_headers(m);
		if (m->is_request) {
			(void)parser_check_request(m, &reason, &unsupported);
			(void)parser_reply_build(m, 100, SIPD_STR_NULL, SIPD_STR_NULL, SIPD_STR_NULL,
						 SIPD_STR_NULL, &out);
			(void)parser_reply_build(m, 486, SIPD_STR("Busy"), SIPD_STR("X-A: 1\r\n"),
						 SIPD_STR("text/plain"), SIPD_STR("b"), &out);
		}
		edit_and_serialize(m);
		parser_free(m);
	}
	free(buf);
	return 0;
}
