/*
 * main.c: the cugen command.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: cugen COMMAND ...\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "cugen: unknown command '%s' (try cugen --help)\n", argv[1]);
    return 2;
}
