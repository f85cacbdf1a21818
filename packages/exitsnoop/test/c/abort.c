// Ends with abort(): SIGABRT, whose default action dumps core when
// RLIMIT_CORE and core_pattern allow it.
#include <stdlib.h>

int main(void)
{
	abort();
}
