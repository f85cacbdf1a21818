// Counts open()s of /dev/null and asserts there were fewer than 5: the
// assertion fails on the fifth, and assert() calls abort().
#include <assert.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) void check_budget(int opened)
{
	assert(opened < 5);
}

int main(void)
{
	for (int opened = 1;; opened++) {
		int fd = open("/dev/null", O_RDONLY);
		char *p = malloc(100);
		close(fd);
		free(p);
		usleep(20000);
		check_budget(opened);
	}
}
