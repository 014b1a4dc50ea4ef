/* Decoding what users upload: WAV (16/24-bit, float), FLAC, Ogg/Vorbis, MP3; refusing what is not audio. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "audio.h"
#include "fixtures.h"

TestSuite(decode, .init = fx_make_dir, .fini = fx_remove_dir);

static double rms(const float *s, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (double)s[i] * s[i];
	return sqrt(sum / (double)n);
}

/* A 1 s sine at half scale: ~1 s long at both rates, RMS 0.5 / sqrt(2). */
static void check_good(const char *path, const char *format, const char *ctype)
{
	struct rp_pcm p;
	char msg[RP_ERRMSG_MAX] = "";

	cr_assert_eq(rp_pcm_decode(&p, path, 60, msg, sizeof(msg)), 0, "%s: %s", path, msg);
	cr_expect_str_eq(p.format, format);
	cr_expect_str_eq(p.content_type, ctype);
	cr_expect(p.duration_ms >= 990 && p.duration_ms <= 1100, "%s: %u ms", path, p.duration_ms);
	cr_expect(labs((long)p.n_wide - 48000) < 48000 / 20, "%s: %zu samples at 48 kHz", path, p.n_wide);
	cr_expect(labs((long)p.n_narrow - 8000) < 8000 / 20, "%s: %zu samples at 8 kHz", path, p.n_narrow);
	cr_expect(fabs(rms(p.wide, p.n_wide) - 0.3536) < 0.05, "%s: RMS %f", path, rms(p.wide, p.n_wide));
	cr_expect(fabs(rms(p.narrow, p.n_narrow) - 0.3536) < 0.05, "%s: RMS %f", path,
		  rms(p.narrow, p.n_narrow));
	rp_pcm_free(&p);
}

static void check_bad_max(const char *path, const char *words, unsigned max)
{
	struct rp_pcm p;
	char msg[RP_ERRMSG_MAX] = "";

	cr_assert_eq(rp_pcm_decode(&p, path, max, msg, sizeof(msg)), EINVAL, "%s must be refused", path);
	cr_expect(strstr(msg, words) != NULL, "%s: message '%s' should say '%s'", path, msg, words);
}

static void check_bad(const char *path, const char *words)
{
	check_bad_max(path, words, 60);
}

Test(decode, wav_s16_stereo_44k)
{
	check_good(fx_sox("a.wav", "-r 44100 -c 2 -b 16 -e signed-integer", 1), "wav", "audio/wav");
}

Test(decode, wav_s24_mono_48k)
{
	check_good(fx_sox("a.wav", "-r 48000 -c 1 -b 24 -e signed-integer", 1), "wav", "audio/wav");
}

Test(decode, wav_float_22k)
{
	check_good(fx_sox("a.wav", "-r 22050 -c 1 -b 32 -e floating-point", 1), "wav", "audio/wav");
}

Test(decode, wav_s16_8k)
{
	check_good(fx_sox("a.wav", "-r 8000 -c 1 -b 16", 1), "wav", "audio/wav");
}

Test(decode, flac)
{
	check_good(fx_sox("a.flac", "-r 44100 -c 2", 1), "flac", "audio/flac");
}

Test(decode, ogg_vorbis)
{
	check_good(fx_sox("a.ogg", "-r 44100 -c 2", 1), "ogg", "audio/ogg");
}

Test(decode, mp3)
{
	check_good(fx_mp3("a.mp3", 1), "mp3", "audio/mpeg");
}

Test(decode, wav_cut_in_the_data)
{
	check_bad(fx_cut(fx_sox("a.wav", "-r 44100 -c 2 -b 16", 1), "cut.wav", 30000), "truncated");
}

Test(decode, wav_cut_in_the_header)
{
	check_bad(fx_cut(fx_sox("a.wav", "-r 44100 -c 2 -b 16", 1), "cut.wav", 30),
		  "not a readable audio file");
}

Test(decode, flac_cut)
{
	check_bad(fx_cut(fx_sox("a.flac", "-r 48000 -c 1", 1), "cut.flac", 20000), "truncated");
}

Test(decode, text_file)
{
	check_bad(fx_text("notes.wav", "this is not audio, only words\n"), "not a readable audio file");
}

Test(decode, empty_file)
{
	check_bad(fx_text("empty.wav", ""), "not a readable audio file");
}

Test(decode, missing_file)
{
	struct rp_pcm p;
	char msg[RP_ERRMSG_MAX];

	cr_expect_eq(rp_pcm_decode(&p, "/nonexistent/x.wav", 60, msg, sizeof(msg)), EINVAL);
}

Test(decode, too_long)
{
	check_bad_max(fx_sox("long.wav", "-r 8000 -c 1", 3), "longer than the 2 s", 2);
}
