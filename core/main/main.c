/* The sipd daemon: everything lives in libsipdcore; this is the entry point. */
#include "internal.h"

int main(int argc, char **argv)
{
	return sipd_main(argc, argv);
}
