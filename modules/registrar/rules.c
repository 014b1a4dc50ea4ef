/* RFC 3261 10.3 steps 6-8 on plain data: expiry, q, Contact: *, Call-ID/CSeq ordering, limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registrar.h"

void reg_contact_free(struct reg_contact *c)
{
	if (!c)
		return;
	free(c->uri);
	free(c->path);
	free(c->call_id);
	free(c->user_agent);
	free(c->node);
	free(c->node_uri);
	free(c);
}

static void note_expired(struct reg_expired *e, const char *aor, const char *contact)
{
	size_t la = strlen(aor), lc = strlen(contact);
	char *key;

	if (e->lost)
		return;
	if (e->n == e->cap) {
		unsigned cap = e->cap ? 2 * e->cap : 64;
		char **keys = realloc(e->keys, cap * sizeof(*keys));

		if (!keys) {
			e->lost = true;
			return;
		}
		e->keys = keys;
		e->cap = cap;
	}
	if (!(key = malloc(la + lc + 2))) {
		e->lost = true;
		return;
	}
	memcpy(key, aor, la + 1);
	memcpy(key + la + 1, contact, lc + 1);
	e->keys[e->n++] = key;
}

void reg_expired_free(struct reg_expired *e)
{
	for (unsigned i = 0; i < e->n; i++)
		free(e->keys[i]);
	free(e->keys);
	memset(e, 0, sizeof(*e));
}

unsigned reg_aor_expire(struct reg_aor *aor, int64_t now, struct reg_expired *expired)
{
	unsigned gone = 0;

	for (struct reg_contact **pp = &aor->contacts; *pp;) {
		struct reg_contact *c = *pp;

		if (c->expires > now) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		/* Other nodes' too: a node that went away cannot delete its own. */
		if (expired)
			note_expired(expired, aor->aor, c->uri);
		reg_contact_free(c);
		aor->count--;
		gone++;
	}
	return gone;
}

static bool same_uri(const struct reg_config *cfg, const char *stored, struct sipd_str uri)
{
	struct sipd_str s = sipd_str_c(stored);

	return cfg->uri_equal ? cfg->uri_equal(s, uri) : sipd_str_eq(s, uri);
}

static struct reg_contact *find(struct reg_aor *aor, const struct reg_config *cfg, struct sipd_str uri)
{
	for (struct reg_contact *c = aor->contacts; c; c = c->next)
		if (same_uri(cfg, c->uri, uri))
			return c;
	return NULL;
}

/* Step 6: the Contact's expires parameter, else the Expires header, else the local default. */
static long wanted_expires(const struct reg_new_contact *nc, const struct reg_request *r,
			   const struct reg_config *cfg)
{
	if (nc->expires >= 0)
		return nc->expires;
	if (r->expires_hdr >= 0)
		return r->expires_hdr;
	return cfg->default_expires;
}

static void fail(struct reg_verdict *v, int code, const char *reason)
{
	v->code = code;
	v->reason = reason;
}

static char *dup_str(struct sipd_str s)
{
	return s.len ? strndup(s.p, s.len) : NULL;
}

/* Fills c from the request (strings replaced); ENOMEM leaves c's old strings in place. */
static int fill(struct reg_contact *c, const struct reg_new_contact *nc, const struct reg_request *r,
		long expires)
{
	char *uri = dup_str(nc->uri), *path = dup_str(r->path), *cid = dup_str(r->call_id),
	     *ua = dup_str(r->user_agent);

	if (!uri || !cid || (r->path.len && !path) || (r->user_agent.len && !ua)) {
		free(uri);
		free(path);
		free(cid);
		free(ua);
		return ENOMEM;
	}
	free(c->uri);
	free(c->path);
	free(c->call_id);
	free(c->user_agent);
	c->uri = uri;
	c->path = path;
	c->call_id = cid;
	c->user_agent = ua;
	c->cseq = r->cseq;
	c->q = nc->q;
	c->expires = r->now + expires;
	c->updated = r->now;
	c->proto = r->proto;
	c->src = r->src;
	c->conn_id = r->conn_id;
	/* Registered here now, whichever node held it before. */
	free(c->node);
	free(c->node_uri);
	c->node = c->node_uri = NULL;
	return 0;
}

/* Step 6, Contact: * : only alone and with Expires: 0; each binding checked against Call-ID/CSeq. */
static int remove_all(struct reg_aor *aor, const struct reg_request *r, struct reg_verdict *v)
{
	if (r->n != 0 || r->expires_hdr != 0) {
		fail(v, 400, r->n ? "Contact: * Must Be The Only Contact" : "Contact: * Requires Expires: 0");
		return 0;
	}
	for (struct reg_contact *c = aor->contacts; c; c = c->next)
		if (sipd_str_eq(sipd_str_c(c->call_id), r->call_id) && r->cseq <= c->cseq) {
			/* A retransmission of the request that created the binding is not an unregistration.
			 */
			fail(v, 500, "Out Of Order CSeq");
			return 0;
		}
	while (aor->contacts) {
		struct reg_contact *c = aor->contacts;

		aor->contacts = c->next;
		reg_contact_free(c);
	}
	v->changed = aor->count > 0;
	aor->count = 0;
	return 0;
}

int reg_rules_apply(struct reg_aor *aor, const struct reg_request *r, const struct reg_config *cfg,
		    struct reg_verdict *v)
{
	unsigned count;

	*v = (struct reg_verdict){.code = 200};
	if (reg_aor_expire(aor, r->now, NULL))
		v->changed = true;
	if (r->star)
		return remove_all(aor, r, v);

	/* Validate everything first, so a refused request changes nothing (step 8 is all or nothing). */
	count = aor->count;
	for (unsigned i = 0; i < r->n; i++) {
		const struct reg_new_contact *nc = &r->contacts[i];
		long e = wanted_expires(nc, r, cfg);
		struct reg_contact *old = find(aor, cfg, nc->uri);
		bool dup_later = false;

		if (e != 0 && e < cfg->min_expires) {
			fail(v, 423, "Interval Too Brief");
			v->min_expires = cfg->min_expires;
			return 0;
		}
		/* Step 7: the same Call-ID must come with a higher CSeq (equal: a retransmission). */
		if (old && sipd_str_eq(sipd_str_c(old->call_id), r->call_id) && r->cseq < old->cseq) {
			fail(v, 500, "Out Of Order CSeq");
			return 0;
		}
		for (unsigned j = i + 1; j < r->n && !dup_later; j++)
			dup_later = cfg->uri_equal ? cfg->uri_equal(r->contacts[j].uri, nc->uri)
						   : sipd_str_eq(r->contacts[j].uri, nc->uri);
		if (dup_later)
			continue; /* the last occurrence of a contact decides */
		if (old && e == 0)
			count--;
		else if (!old && e != 0)
			count++;
	}
	if (cfg->max_contacts > 0 && count > (unsigned)cfg->max_contacts && count > aor->count) {
		fail(v, 403, "Too Many Registered Contacts");
		return 0;
	}

	for (unsigned i = 0; i < r->n; i++) {
		const struct reg_new_contact *nc = &r->contacts[i];
		long e = wanted_expires(nc, r, cfg);
		struct reg_contact *old = find(aor, cfg, nc->uri), *c;

		if (e > cfg->max_expires)
			e = cfg->max_expires;
		if (old && sipd_str_eq(sipd_str_c(old->call_id), r->call_id) && r->cseq == old->cseq)
			continue; /* retransmission: the binding already reflects this request */
		if (e == 0) {
			if (!old)
				continue;
			for (struct reg_contact **pp = &aor->contacts; *pp; pp = &(*pp)->next)
				if (*pp == old) {
					*pp = old->next;
					break;
				}
			reg_contact_free(old);
			aor->count--;
			v->changed = true;
			continue;
		}
		if (old) {
			if (fill(old, nc, r, e))
				return ENOMEM;
		} else {
			if (!(c = calloc(1, sizeof(*c))))
				return ENOMEM;
			if (fill(c, nc, r, e)) {
				free(c);
				return ENOMEM;
			}
			c->next = aor->contacts;
			aor->contacts = c;
			aor->count++;
		}
		v->changed = true;
	}
	return 0;
}
