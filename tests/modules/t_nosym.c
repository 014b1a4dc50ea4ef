/* Test module: a shared object without the descriptor symbol. */
#include <sipd/api.h>

SIPD_EXPORT int t_nosym_answer(void);

SIPD_EXPORT int t_nosym_answer(void)
{
	return 42;
}
