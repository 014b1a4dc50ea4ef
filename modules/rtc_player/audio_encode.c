/* Encoding once per file: 20 ms Opus frames (libopus) and G.711, and their cache files on disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <opus/opus.h>

#include "audio.h"

#define OPUS_BITRATE 32000
#define OPUS_MAX_PKT 1275
#define MAGIC_OPUS   "SIPDOP20"
#define MAGIC_ULAW   "SIPDPCMU"
#define MAGIC_ALAW   "SIPDPCMA"
#define MAGIC_LEN    8

int rp_opus_encode(struct rp_opus *out, const float *wide, size_t n)
{
	struct rp_opus o = {0};
	unsigned frames = (unsigned)((n + RP_SAMPLES_WIDE - 1) / RP_SAMPLES_WIDE);
	float pcm[RP_SAMPLES_WIDE];
	unsigned char pkt[OPUS_MAX_PKT];
	size_t used = 0, cap = (size_t)frames * 96 + OPUS_MAX_PKT;
	OpusEncoder *enc;
	int oerr, err = ENOMEM;

	if (!(enc = opus_encoder_create(RP_RATE_WIDE, 1, OPUS_APPLICATION_VOIP, &oerr)))
		return oerr == OPUS_ALLOC_FAIL ? ENOMEM : EIO;
	opus_encoder_ctl(enc, OPUS_SET_BITRATE(OPUS_BITRATE));
	opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	o.off = malloc(sizeof(*o.off) * (frames ? frames : 1));
	o.len = malloc(sizeof(*o.len) * (frames ? frames : 1));
	o.data = malloc(cap);
	if (!o.off || !o.len || !o.data)
		goto out;
	for (unsigned i = 0; i < frames; i++) {
		size_t at = (size_t)i * RP_SAMPLES_WIDE,
		       take = n - at < RP_SAMPLES_WIDE ? n - at : RP_SAMPLES_WIDE;
		opus_int32 len;

		memcpy(pcm, wide + at, take * sizeof(float));
		memset(pcm + take, 0, (RP_SAMPLES_WIDE - take) * sizeof(float));
		if ((len = opus_encode_float(enc, pcm, RP_SAMPLES_WIDE, pkt, sizeof(pkt))) < 0) {
			err = EIO;
			goto out;
		}
		if (used + (size_t)len > cap) {
			uint8_t *grown;

			cap = cap * 2 + (size_t)len;
			if (!(grown = realloc(o.data, cap)))
				goto out;
			o.data = grown;
		}
		memcpy(o.data + used, pkt, (size_t)len);
		o.off[i] = (uint32_t)used;
		o.len[i] = (uint16_t)len;
		used += (size_t)len;
	}
	o.frames = frames;
	*out = o;
	o = (struct rp_opus){0};
	err = 0;
out:
	opus_encoder_destroy(enc);
	rp_opus_free(&o);
	return err;
}

void rp_opus_free(struct rp_opus *o)
{
	free(o->data);
	free(o->off);
	free(o->len);
	*o = (struct rp_opus){0};
}

int rp_g711_encode(uint8_t **ulaw, uint8_t **alaw, size_t *n, const float *narrow, size_t count)
{
	size_t total = (count + RP_SAMPLES_NARROW - 1) / RP_SAMPLES_NARROW * RP_SAMPLES_NARROW;
	uint8_t *u = malloc(total ? total : 1), *a = malloc(total ? total : 1);

	if (!u || !a) {
		free(u);
		free(a);
		return ENOMEM;
	}
	for (size_t i = 0; i < total; i++) {
		int16_t s = i < count ? rp_pcm16(narrow[i]) : 0;

		u[i] = rp_g711_ulaw(s);
		a[i] = rp_g711_alaw(s);
	}
	*ulaw = u, *alaw = a, *n = total;
	return 0;
}

/* ---- cache files: magic, stamp (u64), count (u32), then the payload; written to a temp name, renamed ----
 */

static int write_file(const char *path, const char *magic, uint64_t stamp, uint32_t count, const void *a,
		      size_t alen, const void *b, size_t blen)
{
	char tmp[4096];
	FILE *f;
	int err = 0;

	/* Per process: several servers may share a library cache. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= sizeof(tmp))
		return ENAMETOOLONG;
	if (!(f = fopen(tmp, "wb")))
		return errno;
	if (fwrite(magic, 1, MAGIC_LEN, f) != MAGIC_LEN || fwrite(&stamp, sizeof(stamp), 1, f) != 1 ||
	    fwrite(&count, sizeof(count), 1, f) != 1 || (alen && fwrite(a, 1, alen, f) != alen) ||
	    (blen && fwrite(b, 1, blen, f) != blen))
		err = EIO;
	if (fclose(f) && !err)
		err = EIO;
	if (!err && rename(tmp, path))
		err = errno;
	if (err)
		unlink(tmp);
	return err;
}

int rp_cache_write(const char *base, uint64_t stamp, const struct rp_opus *o, const uint8_t *ulaw,
		   const uint8_t *alaw, size_t g711_len)
{
	char path[4096];
	size_t bytes = o->frames ? o->off[o->frames - 1] + o->len[o->frames - 1] : 0;
	int err;

	snprintf(path, sizeof(path), "%s.opus20", base);
	if ((err = write_file(path, MAGIC_OPUS, stamp, o->frames, o->len, sizeof(*o->len) * o->frames,
			      o->data, bytes)))
		return err;
	snprintf(path, sizeof(path), "%s.pcmu", base);
	if ((err = write_file(path, MAGIC_ULAW, stamp, (uint32_t)g711_len, ulaw, g711_len, NULL, 0)))
		return err;
	snprintf(path, sizeof(path), "%s.pcma", base);
	return write_file(path, MAGIC_ALAW, stamp, (uint32_t)g711_len, alaw, g711_len, NULL, 0);
}

/* Opens path and checks its header; ENOENT when absent or made from another version of the source. */
static int open_checked(FILE **out, const char *path, const char *magic, uint64_t stamp, uint32_t *count)
{
	char m[MAGIC_LEN];
	uint64_t s;
	FILE *f = fopen(path, "rb");

	if (!f)
		return ENOENT;
	if (fread(m, 1, MAGIC_LEN, f) != MAGIC_LEN || memcmp(m, magic, MAGIC_LEN) ||
	    fread(&s, sizeof(s), 1, f) != 1 || fread(count, sizeof(*count), 1, f) != 1) {
		fclose(f);
		return EBADMSG;
	}
	if (s != stamp) {
		fclose(f);
		return ENOENT;
	}
	*out = f;
	return 0;
}

static int read_g711(const char *path, const char *magic, uint64_t stamp, uint8_t **out, size_t *n)
{
	FILE *f;
	uint32_t count;
	uint8_t *buf;
	int err;

	if ((err = open_checked(&f, path, magic, stamp, &count)))
		return err;
	if (count % RP_SAMPLES_NARROW || !(buf = malloc(count ? count : 1))) {
		fclose(f);
		return count % RP_SAMPLES_NARROW ? EBADMSG : ENOMEM;
	}
	if (fread(buf, 1, count, f) != count || fgetc(f) != EOF) {
		free(buf);
		fclose(f);
		return EBADMSG;
	}
	fclose(f);
	*out = buf, *n = count;
	return 0;
}

static int read_opus(const char *path, uint64_t stamp, struct rp_opus *out)
{
	struct rp_opus o = {0};
	FILE *f;
	uint32_t frames;
	size_t total = 0;
	int err;

	if ((err = open_checked(&f, path, MAGIC_OPUS, stamp, &frames)))
		return err;
	err = ENOMEM;
	if (frames > 1u << 24)
		err = EBADMSG;
	else if ((o.len = malloc(sizeof(*o.len) * (frames ? frames : 1))) &&
		 (o.off = malloc(sizeof(*o.off) * (frames ? frames : 1))))
		err = fread(o.len, sizeof(*o.len), frames, f) == frames ? 0 : EBADMSG;
	for (uint32_t i = 0; !err && i < frames; i++) {
		if (!o.len[i] || o.len[i] > OPUS_MAX_PKT)
			err = EBADMSG;
		o.off[i] = (uint32_t)total;
		total += o.len[i];
	}
	if (!err && !(o.data = malloc(total ? total : 1)))
		err = ENOMEM;
	if (!err && (fread(o.data, 1, total, f) != total || fgetc(f) != EOF))
		err = EBADMSG;
	fclose(f);
	if (err) {
		rp_opus_free(&o);
		return err;
	}
	o.frames = frames;
	*out = o;
	return 0;
}

int rp_cache_read(const char *base, uint64_t stamp, struct rp_opus *o, uint8_t **ulaw, uint8_t **alaw,
		  size_t *g711_len)
{
	char path[4096];
	uint8_t *u = NULL, *a = NULL;
	size_t nu = 0, na = 0;
	int err;

	snprintf(path, sizeof(path), "%s.pcmu", base);
	if ((err = read_g711(path, MAGIC_ULAW, stamp, &u, &nu)))
		goto out;
	snprintf(path, sizeof(path), "%s.pcma", base);
	if ((err = read_g711(path, MAGIC_ALAW, stamp, &a, &na)))
		goto out;
	if (nu != na) {
		err = EBADMSG;
		goto out;
	}
	snprintf(path, sizeof(path), "%s.opus20", base);
	if ((err = read_opus(path, stamp, o)))
		goto out;
	*ulaw = u, *alaw = a, *g711_len = nu;
	u = a = NULL;
out:
	free(u);
	free(a);
	return err;
}
