/* G.711 encoders against values of the ITU-T G.711 tables (segment edges, signs, clipping). */
#include <criterion/criterion.h>

#include "audio.h"

struct vec {
	int16_t pcm;
	uint8_t ulaw, alaw;
};

/* Reference codes of G.711 (A-law with even bits inverted, mu-law with all bits inverted). */
static const struct vec vectors[] = {
    {0, 0xff, 0xd5},     {1, 0xff, 0xd5},     {-1, 0x7e, 0x55},     {8, 0xfe, 0xd5},     {-8, 0x7e, 0x55},
    {100, 0xf2, 0xd3},   {-100, 0x72, 0x53},  {1000, 0xce, 0xfa},   {-1000, 0x4e, 0x7a}, {4000, 0xaf, 0x9a},
    {-4000, 0x2f, 0x1a}, {12345, 0x97, 0xbd}, {-12345, 0x17, 0x3d}, {32767, 0x80, 0xaa}, {-32768, 0x00, 0x2a},
};

Test(g711, known_values)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		cr_expect_eq(rp_g711_ulaw(vectors[i].pcm), vectors[i].ulaw,
			     "mu-law of %d: 0x%02x, want 0x%02x", vectors[i].pcm,
			     rp_g711_ulaw(vectors[i].pcm), vectors[i].ulaw);
		cr_expect_eq(rp_g711_alaw(vectors[i].pcm), vectors[i].alaw,
			     "A-law of %d: 0x%02x, want 0x%02x", vectors[i].pcm, rp_g711_alaw(vectors[i].pcm),
			     vectors[i].alaw);
	}
}

/* Larger magnitudes never get smaller codes within one sign (the companding curve is monotonic). */
Test(g711, monotonic)
{
	for (int v = 1; v < 32767; v++) {
		cr_assert_leq((uint8_t)~rp_g711_ulaw((int16_t)v), (uint8_t)~rp_g711_ulaw((int16_t)(v + 1)));
		cr_assert_leq(rp_g711_alaw((int16_t)v) ^ 0x55, rp_g711_alaw((int16_t)(v + 1)) ^ 0x55);
	}
}

Test(g711, float_to_pcm16_clips)
{
	cr_expect_eq(rp_pcm16(0.0f), 0);
	cr_expect_eq(rp_pcm16(2.0f), 32767);
	cr_expect_eq(rp_pcm16(-2.0f), -32768);
	cr_expect_eq(rp_pcm16(0.5f), 16384);
}

Test(g711, frames_are_padded_with_silence)
{
	float pcm[200] = {0};
	uint8_t *u, *a;
	size_t n;

	pcm[0] = 0.5f;
	cr_assert_eq(rp_g711_encode(&u, &a, &n, pcm, 200), 0);
	cr_expect_eq(n, 320, "two 20 ms frames at 8 kHz");
	cr_expect_eq(u[0], rp_g711_ulaw(16384));
	cr_expect_eq(u[319], 0xff, "padding is mu-law silence");
	cr_expect_eq(a[319], 0xd5, "padding is A-law silence");
	free(u);
	free(a);
}
