// `startleak LEAKS SIZE`: leaks at the very first thing main() does, then
// exits at once: only a tracer attached before main() runs sees it.
#include <stdlib.h>

__attribute__((noinline, noipa)) void *memleak_test_early(size_t n) { return malloc(n); }

void *volatile keep;

int main(int argc, char **argv)
{
	int leaks = atoi(argv[1]);
	size_t size = strtoul(argv[2], 0, 10);

	for (int i = 0; i < leaks; i++) keep = memleak_test_early(size);
	return 0;
}
