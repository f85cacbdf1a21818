// Allocates 20 blocks of 1000 bytes in leak_some() and frees only the even
// ones: 10 leak. Prints "ready" and waits for a signal to end it.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *blocks[20];

__attribute__((noinline)) void leak_some(void)
{
	for (int i = 0; i < 20; i++)
		blocks[i] = malloc(1000);
	for (int i = 0; i < 20; i += 2)
		free(blocks[i]);
}

int main(void)
{
	leak_some();
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
