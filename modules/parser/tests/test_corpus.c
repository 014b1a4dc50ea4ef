/* Walks tests/data/sip/{valid,invalid,rfc4475}: parses each fixture and checks its .expect file. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>

#include "corpus.h"

#define OUT_MAX 4096

static void put_str(char *out, struct sipd_str s)
{
	size_t n = s.len < OUT_MAX - 1 ? s.len : OUT_MAX - 1;

	if (n)
		memcpy(out, s.p, n);
	out[n] = '\0';
}

static const char *scheme_name(enum sipd_uri_scheme s)
{
	return s == SIPD_URI_SIP ? "sip" : s == SIPD_URI_SIPS ? "sips" : s == SIPD_URI_TEL ? "tel" : "other";
}

/* Element idx of a list, or NULL. */
static const struct sipd_nameaddr *na_at(const struct sipd_nameaddr *na, long idx)
{
	while (na && idx-- > 0)
		na = na->next;
	return na;
}

static int na_count(const struct sipd_nameaddr *na)
{
	int n = 0;

	for (; na; na = na->next)
		n++;
	return n;
}

/* name-addr fields: "uri", "display", "tag", "expires", "q" */
static int na_field(const struct sipd_nameaddr *na, const char *f, char *out)
{
	if (!na)
		return ENOENT;
	if (!strcmp(f, "uri"))
		put_str(out, na->uri.raw);
	else if (!strcmp(f, "display"))
		put_str(out, na->display);
	else if (!strcmp(f, "tag"))
		put_str(out, na->tag);
	else if (!strcmp(f, "host"))
		put_str(out, na->uri.host);
	else if (!strcmp(f, "expires"))
		snprintf(out, OUT_MAX, "%ld", na->expires);
	else if (!strcmp(f, "q"))
		snprintf(out, OUT_MAX, "%d", na->q);
	else
		return EINVAL;
	return 0;
}

static int via_field(const struct sipd_via *v, long idx, const char *f, char *out)
{
	while (v && idx-- > 0)
		v = v->next;
	if (!v)
		return ENOENT;
	if (!strcmp(f, "host"))
		put_str(out, v->host);
	else if (!strcmp(f, "port"))
		snprintf(out, OUT_MAX, "%u", v->port);
	else if (!strcmp(f, "branch"))
		put_str(out, v->branch);
	else if (!strcmp(f, "protocol"))
		put_str(out, v->protocol);
	else if (!strcmp(f, "received"))
		put_str(out, v->received);
	else if (!strcmp(f, "maddr"))
		put_str(out, v->maddr);
	else if (!strcmp(f, "ttl"))
		snprintf(out, OUT_MAX, "%d", v->ttl);
	else if (!strcmp(f, "rport"))
		snprintf(out, OUT_MAX, "%ld", v->rport ? v->rport_value : -2);
	else
		return EINVAL;
	return 0;
}

static void tokens_join(const struct sipd_tokens *t, char *out)
{
	size_t len = 0;
	unsigned i;

	out[0] = '\0';
	for (i = 0; i < t->count && len + t->items[i].len + 2 < OUT_MAX; i++) {
		if (i)
			out[len++] = ',';
		memcpy(out + len, t->items[i].p, t->items[i].len);
		len += t->items[i].len;
		out[len] = '\0';
	}
}

/* "name[3].field" -> name "name", idx 3, field "field" */
static void split_key(const char *key, char *name, long *idx, const char **field)
{
	const char *dot = strchr(key, '.'), *br = strchr(key, '[');
	size_t n = (size_t)((br && (!dot || br < dot)) ? br - key : dot ? dot - key : (long)strlen(key));

	memcpy(name, key, n);
	name[n] = '\0';
	*idx = br && (!dot || br < dot) ? strtol(br + 1, NULL, 10) : 0;
	*field = dot ? dot + 1 : "";
}

static int uint_hdr(struct sipd_msg *m, enum sipd_hdr_type type, char *out)
{
	const uint32_t *v;
	unsigned i;

	for (i = 0; i < m->hdr_count; i++) {
		if (m->hdrs[i].type != type)
			continue;
		if (sipd_msg_hdr(m, &m->hdrs[i], (const void **)&v))
			return EBADMSG;
		snprintf(out, OUT_MAX, "%u", *v);
		return 0;
	}
	return ENOENT;
}

static struct sipd_hdr *first_of(struct sipd_msg *m, enum sipd_hdr_type t)
{
	unsigned i;

	for (i = 0; i < m->hdr_count; i++)
		if (m->hdrs[i].type == t)
			return &m->hdrs[i];
	return NULL;
}

/* Computes the value of key for message m into out. */
static int lookup(struct sipd_msg *m, const char *key, char *out)
{
	const struct sipd_nameaddr *na;
	const struct sipd_via *via;
	const struct sipd_uri *u;
	const struct sipd_cseq *cs;
	const struct sipd_tokens *t;
	const struct sipd_session_expires *se;
	const struct sipd_auth *a;
	const struct sipd_str *s;
	const char *field;
	char name[64];
	long idx;
	int err;

	split_key(key, name, &idx, &field);
	if (!strcmp(key, "method"))
		put_str(out, m->method);
	else if (!strcmp(key, "ruri"))
		put_str(out, m->ruri);
	else if (!strcmp(key, "status"))
		snprintf(out, OUT_MAX, "%d", m->status);
	else if (!strcmp(key, "reason_phrase"))
		put_str(out, m->reason);
	else if (!strcmp(key, "call-id"))
		put_str(out, m->call_id);
	else if (!strcmp(key, "body.len"))
		snprintf(out, OUT_MAX, "%zu", m->body.len);
	else if (!strcmp(key, "hdr.count"))
		snprintf(out, OUT_MAX, "%u", m->hdr_count);
	else if (!strcmp(key, "max-forwards"))
		return uint_hdr(m, SIPD_HDR_MAX_FORWARDS, out);
	else if (!strcmp(key, "expires"))
		return uint_hdr(m, SIPD_HDR_EXPIRES, out);
	else if (!strcmp(key, "min-se"))
		return uint_hdr(m, SIPD_HDR_MIN_SE, out);
	else if (!strcmp(name, "ruri")) {
		if ((err = sipd_msg_ruri(m, &u)))
			return err;
		if (!strcmp(field, "scheme"))
			snprintf(out, OUT_MAX, "%s", scheme_name(u->scheme));
		else if (!strcmp(field, "user"))
			put_str(out, u->user);
		else if (!strcmp(field, "host"))
			put_str(out, u->host);
		else if (!strcmp(field, "port"))
			snprintf(out, OUT_MAX, "%u", u->port);
		else if (!strcmp(field, "transport"))
			put_str(out, u->transport);
		else if (!strcmp(field, "maddr"))
			put_str(out, u->maddr);
		else if (!strcmp(field, "lr"))
			snprintf(out, OUT_MAX, "%d", u->lr);
		else
			return EINVAL;
	} else if (!strcmp(name, "from") || !strcmp(name, "to")) {
		if ((err = sipd_msg_hdr(m, name[0] == 'f' ? m->h_from : m->h_to, (const void **)&na)))
			return err;
		return na_field(na, field, out);
	} else if (!strcmp(name, "contact") || !strcmp(name, "route") || !strcmp(name, "rr")) {
		struct sipd_hdr *h = name[0] == 'c'                     ? m->h_contact
				     : name[0] == 'r' && name[1] == 'o' ? m->h_route
									: m->h_record_route;

		if ((err = sipd_msg_hdr(m, h, (const void **)&na)))
			return err;
		if (!strcmp(field, "count"))
			snprintf(out, OUT_MAX, "%d", na_count(na));
		else if (!strcmp(field, "star"))
			snprintf(out, OUT_MAX, "%d", na->star);
		else
			return na_field(na_at(na, idx), field, out);
	} else if (!strcmp(name, "via")) {
		if ((err = sipd_msg_via(m, &via)))
			return err;
		if (!strcmp(field, "count")) {
			int n = 0;

			for (; via; via = via->next)
				n++;
			snprintf(out, OUT_MAX, "%d", n);
			return 0;
		}
		return via_field(via, idx, field, out);
	} else if (!strcmp(name, "cseq")) {
		if ((err = sipd_msg_cseq(m, &cs)))
			return err;
		if (!strcmp(field, "number"))
			snprintf(out, OUT_MAX, "%u", cs->number);
		else
			put_str(out, cs->method);
	} else if (!strcmp(key, "supported") || !strcmp(key, "require")) {
		if ((err = sipd_msg_hdr(m, key[0] == 's' ? m->h_supported : m->h_require, (const void **)&t)))
			return err;
		tokens_join(t, out);
	} else if (!strcmp(name, "session-expires")) {
		if ((err = sipd_msg_hdr(m, m->h_session_expires, (const void **)&se)))
			return err;
		if (!strcmp(field, "refresher"))
			put_str(out, se->refresher);
		else
			snprintf(out, OUT_MAX, "%u", se->delta);
	} else if (!strcmp(key, "content-type")) {
		if ((err = sipd_msg_hdr(m, m->h_content_type, (const void **)&s)))
			return err;
		put_str(out, *s);
	} else if (!strcmp(name, "auth")) {
		if ((err = sipd_msg_hdr(m, first_of(m, SIPD_HDR_AUTHORIZATION), (const void **)&a)))
			return err;
		if (!strcmp(field, "username"))
			put_str(out, a->username);
		else if (!strcmp(field, "realm"))
			put_str(out, a->realm);
		else if (!strcmp(field, "nonce"))
			put_str(out, a->nonce);
		else if (!strcmp(field, "uri"))
			put_str(out, a->uri);
		else if (!strcmp(field, "response"))
			put_str(out, a->response);
		else if (!strcmp(field, "qop"))
			put_str(out, a->qop);
		else if (!strcmp(field, "nc"))
			put_str(out, a->nc);
		else
			return EINVAL;
	} else {
		return EINVAL;
	}
	return 0;
}

static const char *err_name(int err)
{
	return err == 0 ? "ok" : err == EBADMSG ? "EBADMSG" : err == EMSGSIZE ? "EMSGSIZE" : "other";
}

/* Checks one fixture; returns the number of mismatches (reported with cr_log_error). */
static int check_fixture(const char *dir, const char *file)
{
	char path[1024], out[OUT_MAX], line[8192], *buf, *eq, *nl;
	const char *why = NULL, *reason = NULL;
	struct sipd_str unsupported, ser;
	struct sipd_msg *m = NULL;
	size_t len = 0, elen;
	int err, code = 0, bad = 0;
	bool checked = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	buf = corpus_read(path, &len);
	cr_assert_not_null(buf, "cannot read %s", path);
	elen = strlen(path);
	memcpy(path + elen - 4, ".expect", 8);
	f = fopen(path, "r");
	cr_assert_not_null(f, "missing %s", path);
	err = parser_parse(&m, buf, len, NULL, &why);
	if (!err) {
		/* with no edits, serializing gives back the input byte for byte */
		cr_expect_eq(parser_serialize(m, &ser), 0);
		cr_expect(ser.len == len && memcmp(ser.p, buf, len) == 0, "%s: serialize changed bytes",
			  file);
	}
	while (fgets(line, sizeof(line), f)) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		eq = strchr(line, '=');
		/* daemon= is what the running server answers: tests/integration/test_rfc4475.py checks it */
		if (!eq || line[0] == '#' || !strncmp(line, "daemon=", 7))
			continue;
		*eq++ = '\0';
		if (!strcmp(line, "parse")) {
			if (strcmp(err_name(err), eq)) {
				cr_log_error("%s: parse gave %s (%s), expected %s", file, err_name(err),
					     why ? why : "", eq);
				bad++;
			}
			continue;
		}
		if (err) {
			cr_log_error("%s: parse failed (%s), cannot check %s", file, why ? why : "", line);
			bad++;
			break;
		}
		if (!strcmp(line, "check") || !strcmp(line, "reason") || !strcmp(line, "unsupported")) {
			if (!checked && m->is_request) {
				code = parser_check_request(m, &reason, &unsupported);
				checked = true;
			}
			if (!strcmp(line, "check"))
				snprintf(out, sizeof(out), "%d", code);
			else if (!strcmp(line, "reason"))
				snprintf(out, sizeof(out), "%s", reason ? reason : "");
			else
				put_str(out, unsupported);
		} else if (lookup(m, line, out)) {
			cr_log_error("%s: cannot evaluate %s", file, line);
			bad++;
			continue;
		}
		if (strcmp(out, eq)) {
			cr_log_error("%s: %s is '%s', expected '%s'", file, line, out, eq);
			bad++;
		}
	}
	fclose(f);
	parser_free(m);
	free(buf);
	return bad;
}

static int walk(const char *kind, int at_least)
{
	char dir[1024];
	struct dirent *d;
	int bad = 0, n = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/sip/%s", SIPD_TEST_DATA, kind);
	dp = opendir(dir);
	cr_assert_not_null(dp, "no corpus at %s", dir);
	while ((d = readdir(dp))) {
		size_t l = strlen(d->d_name);

		if (l < 5 || strcmp(d->d_name + l - 4, ".sip"))
			continue;
		bad += check_fixture(dir, d->d_name);
		n++;
	}
	closedir(dp);
	cr_expect_geq(n, at_least, "only %d %s fixtures", n, kind);
	return bad;
}

TestSuite(corpus, .init = corpus_options);

Test(corpus, valid)
{
	cr_expect_eq(walk("valid", 25), 0, "valid fixtures with mismatches (see log)");
}

Test(corpus, invalid)
{
	cr_expect_eq(walk("invalid", 25), 0, "invalid fixtures with mismatches (see log)");
}

/* The 49 torture messages of RFC 4475, written from its descriptions. */
Test(corpus, rfc4475)
{
	cr_expect_eq(walk("rfc4475", 49), 0, "RFC 4475 fixtures with mismatches (see log)");
}
