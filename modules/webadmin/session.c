/* Admin sessions: the cookie token maps to an admin and a CSRF token; only a hash of the cookie is kept. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "webadmin.h"

/* Sessions held at once; the least recently used goes first beyond it. */
#define MAX_SESSIONS 256
#define TOKEN_BYTES  32

struct session {
	unsigned char key[32]; /* SHA-256 of the cookie token */
	struct wa_session_info info;
	int64_t last_used;
	bool used;
};

static struct session sessions[MAX_SESSIONS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int hash_token(unsigned char *key, const char *token)
{
	unsigned int n = 0;

	return EVP_Digest(token, strlen(token), key, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : EIO;
}

int wa_session_create(const char *admin, char *token, size_t token_size, struct wa_session_info *info,
		      int64_t now)
{
	struct session *slot = NULL;
	unsigned char key[32];
	int err;

	if (strlen(admin) >= sizeof(info->admin))
		return EINVAL;
	if ((err = wa_token_random(token, token_size, TOKEN_BYTES)) || (err = hash_token(key, token)))
		return err;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &sessions[i];
		if (s->used && now - s->last_used >= wa_session_ttl)
			s->used = false;
		if (!s->used && !slot)
			slot = s;
	}
	if (!slot) {
		slot = &sessions[0];
		for (unsigned i = 1; i < MAX_SESSIONS; i++)
			if (sessions[i].last_used < slot->last_used)
				slot = &sessions[i];
	}
	memset(slot, 0, sizeof(*slot));
	memcpy(slot->key, key, sizeof(key));
	snprintf(slot->info.admin, sizeof(slot->info.admin), "%s", admin);
	err = wa_token_random(slot->info.csrf, sizeof(slot->info.csrf), TOKEN_BYTES);
	slot->last_used = now;
	slot->used = !err;
	slot->info.expires_in = wa_session_ttl;
	if (!err)
		*info = slot->info;
	pthread_mutex_unlock(&lock);
	return err;
}

/* With the lock held. */
static struct session *find(const unsigned char *key, int64_t now)
{
	for (unsigned i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &sessions[i];
		if (!s->used || CRYPTO_memcmp(s->key, key, sizeof(s->key)) != 0)
			continue;
		if (now - s->last_used >= wa_session_ttl) {
			s->used = false;
			return NULL;
		}
		return s;
	}
	return NULL;
}

int wa_session_get(const char *token, struct wa_session_info *info, int64_t now)
{
	unsigned char key[32];
	struct session *s;

	if (!token || !*token || strlen(token) > 128 || hash_token(key, token))
		return ENOENT;
	pthread_mutex_lock(&lock);
	if ((s = find(key, now))) {
		s->last_used = now;
		s->info.expires_in = wa_session_ttl;
		*info = s->info;
	}
	pthread_mutex_unlock(&lock);
	return s ? 0 : ENOENT;
}

int wa_session_end(const char *token)
{
	unsigned char key[32];
	struct session *s;

	if (!token || hash_token(key, token))
		return ENOENT;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < MAX_SESSIONS; i++) {
		s = &sessions[i];
		if (s->used && CRYPTO_memcmp(s->key, key, sizeof(key)) == 0) {
			memset(s, 0, sizeof(*s));
			pthread_mutex_unlock(&lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&lock);
	return ENOENT;
}

void wa_session_end_admin(const char *admin)
{
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used && strcmp(sessions[i].info.admin, admin) == 0)
			memset(&sessions[i], 0, sizeof(sessions[i]));
	pthread_mutex_unlock(&lock);
}

bool wa_csrf_ok(const struct wa_session_info *info, const char *header)
{
	size_t n = strlen(info->csrf);

	return header && n && strlen(header) == n && CRYPTO_memcmp(header, info->csrf, n) == 0;
}

void wa_sessions_clear(void)
{
	pthread_mutex_lock(&lock);
	memset(sessions, 0, sizeof(sessions));
	pthread_mutex_unlock(&lock);
}
