// argv[1] getppid() calls as fast as it can, then exit 0: a syscall-heavy target.
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;

	for (long i = 0; i < n; i++)
		getppid();
	return 0;
}
