/* grammar.c: check a command line against the real program's grammar (see grammar.c). */
#ifndef DOUBLE_GRAMMAR_H
#define DOUBLE_GRAMMAR_H
#include <stddef.h>
#include <stdio.h>

/* Reads a grammar file (path only names it in messages): 0 loaded, -1 bad (err says why). */
int grammar_load(FILE *f, const char *path, char *err, size_t errn);

/* 0 when argv (UTF-8, argv[0] the program) is accepted, else the exit code the real program
 * would give, with the reason in msg. rest_at: index of the first argument of the command or
 * script the call names (micromamba run, python), -1 when there is none. */
int grammar_check(int argc, char **argv, char *msg, size_t msgn, int *rest_at);

#endif
