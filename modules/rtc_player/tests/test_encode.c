/* Opus frames (count, 20 ms each, decodable) and the cache files that spare re-encoding at start. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <opus/opus.h>
#include <string.h>

#include "audio.h"
#include "fixtures.h"

TestSuite(encode, .init = fx_make_dir, .fini = fx_remove_dir);

static float *sine(size_t n, unsigned rate)
{
	float *s = malloc(n * sizeof(float));

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = 0.5f * sinf(2.0f * (float)M_PI * 440.0f * (float)i / (float)rate);
	return s;
}

Test(encode, opus_frames_are_20ms_and_decode_back)
{
	size_t n = 48000 + 100; /* 1 s and a bit: the tail becomes a 51st, padded frame */
	float *pcm = sine(n, 48000), out[960];
	struct rp_opus o;
	OpusDecoder *dec;
	double sum = 0;
	size_t count = 0;
	int err;

	cr_assert_eq(rp_opus_encode(&o, pcm, n), 0);
	cr_expect_eq(o.frames, 51);
	cr_assert_not_null(dec = opus_decoder_create(48000, 1, &err));
	for (unsigned i = 0; i < o.frames; i++) {
		const uint8_t *pkt = o.data + o.off[i];
		int got;

		cr_assert(o.len[i] > 0 && o.len[i] < 400, "frame %u: %u bytes at ~32 kbit/s", i, o.len[i]);
		cr_expect_eq(opus_packet_get_nb_samples(pkt, o.len[i], 48000), 960, "frame %u lasts 20 ms",
			     i);
		cr_expect(i == 0 || o.off[i] == o.off[i - 1] + o.len[i - 1], "frames are contiguous");
		got = opus_decode_float(dec, pkt, o.len[i], out, 960, 0);
		cr_assert_eq(got, 960);
		/* Past the codec's start-up, the decoded sine has the source's level. */
		if (i >= 5 && i < 50)
			for (int k = 0; k < got; k++, count++)
				sum += (double)out[k] * out[k];
	}
	cr_expect(fabs(sqrt(sum / (double)count) - 0.3536) < 0.05, "decoded RMS %f",
		  sqrt(sum / (double)count));
	opus_decoder_destroy(dec);
	rp_opus_free(&o);
	free(pcm);
}

Test(encode, bitrate_is_about_32_kbits)
{
	size_t n = 48000 * 3;
	float *pcm = sine(n, 48000);
	struct rp_opus o;
	size_t bytes;

	cr_assert_eq(rp_opus_encode(&o, pcm, n), 0);
	bytes = o.off[o.frames - 1] + o.len[o.frames - 1];
	cr_expect(bytes * 8 / 3 > 20000 && bytes * 8 / 3 < 40000, "%zu bit/s", bytes * 8 / 3);
	rp_opus_free(&o);
	free(pcm);
}

Test(encode, cache_round_trip_and_staleness)
{
	size_t n = 48000 / 2, g711_len, len2;
	float *wide = sine(n, 48000), *narrow = sine(4000, 8000);
	struct rp_opus o, back;
	uint8_t *u, *a, *u2, *a2;
	char base[300];

	snprintf(base, sizeof(base), "%s/clip", fx_dir);
	cr_assert_eq(rp_opus_encode(&o, wide, n), 0);
	cr_assert_eq(rp_g711_encode(&u, &a, &g711_len, narrow, 4000), 0);
	cr_assert_eq(rp_cache_write(base, 42, &o, u, a, g711_len), 0);

	cr_assert_eq(rp_cache_read(base, 42, &back, &u2, &a2, &len2), 0);
	cr_expect_eq(back.frames, o.frames);
	cr_expect_eq(len2, g711_len);
	cr_expect_eq(memcmp(back.len, o.len, o.frames * sizeof(*o.len)), 0);
	cr_expect_eq(memcmp(back.data, o.data, o.off[o.frames - 1] + o.len[o.frames - 1]), 0);
	cr_expect_eq(memcmp(u2, u, g711_len), 0);
	cr_expect_eq(memcmp(a2, a, g711_len), 0);
	rp_opus_free(&back);
	free(u2);
	free(a2);

	cr_expect_eq(rp_cache_read(base, 43, &back, &u2, &a2, &len2), ENOENT, "another source: stale");
	snprintf(base, sizeof(base), "%s/clip.opus20", fx_dir);
	/* The header and part of the frame lengths only. */
	cr_assert_eq(rename(fx_cut(base, "cut.opus20", 30), base), 0);
	snprintf(base, sizeof(base), "%s/clip", fx_dir);
	cr_expect_eq(rp_cache_read(base, 42, &back, &u2, &a2, &len2), EBADMSG, "a damaged cache is noticed");
	snprintf(base, sizeof(base), "%s/none", fx_dir);
	cr_expect_eq(rp_cache_read(base, 42, &back, &u2, &a2, &len2), ENOENT);
	rp_opus_free(&o);
	free(u);
	free(a);
	free(wide);
	free(narrow);
}
