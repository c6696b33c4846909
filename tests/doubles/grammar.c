/* Command-line grammar check for the test doubles: a double must reject what the real program
 * rejects (DESIGN.md 5.2). Portable C (UTF-8 strings), used by double.c before any rule runs.
 *
 * A grammar file (tests/doubles/grammars/<name>.grammar) describes the real program's command
 * line as taken from its source or manual, which the file cites. One directive a line, '#'
 * starts a comment line. Settings for the whole program:
 *   exit-unknown N     exit code for an unknown or misplaced option or an unexpected word
 *   exit-missing N     ... for an option without its value, or too few words
 *   exit-badvalue N    ... for a value outside its set, or not an integer
 *   prefix CHARS       characters that start an option word ("-", or "-/" for "/name" too)
 *   nocase             option, verb and choice names ignore case
 *   long-eq            "--name=value" is accepted for long options
 *   short-attach       "-xVALUE" and combined flags "-xyz" are accepted
 *   strict-values      a value may not start with a prefix character
 *   exit-repeat N      a one-value option (value, int, choice, eqvalue) given twice in one
 *                      scope exits N (CLI11's MultiOptionPolicy::Throw); off when not given
 * Then scopes; the first is the top level. "scope NAME" starts a subcommand entered by the plain
 * word NAME; "scope NAME verb" one entered by the option word -NAME (certutil's verbs):
 * One option a line; NAMES are its aliases ("value -r --root-prefix"):
 *   flag NAMES         no value                         value NAMES   one value
 *   repeat NAMES       one value, and the option may be given again (a list option)
 *   int NAMES          one integer                      multi NAMES   one or more values
 *   eqvalue NAMES      one value, attached as NAME=VALUE only
 *   choice NAME VALS   one value out of VALS            list NAME VALS  NAME=v1,v2 out of VALS
 *   ends NAMES         one value, which ends option parsing (python -c / -m)
 *   positional MIN MAX plain words accepted (MAX "*": any number)
 *   poschoice N VALS   the Nth plain word must be one of VALS
 *   inherit            the top level's options are accepted here too
 *   rest               the first plain word and all words after it are the command's arguments
 *   prefix-command     an unknown option word starts those arguments too (CLI11 prefix_command)
 *   rest-required N    exit N when there are no such arguments
 *   rest-dash N        exit N when they start with an option word (no program of that name)
 *   undefined NAMES    (top level) subcommands that exist but are not transcribed: exit 199
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar.h"

#define MAXOPT 160
#define MAXSCOPE 24
#define MAXNAMES 6
#define MAXVALS 48

enum kind { K_FLAG, K_VALUE, K_INT, K_MULTI, K_EQ, K_CHOICE, K_LIST, K_ENDS, K_REPEAT };

struct opt {
    enum kind kind;
    int nnames, nvals;
    char *names[MAXNAMES];
    char *vals[MAXVALS];
};

struct scope {
    char *name;
    int verb, inherit, rest, prefix_command, rest_required, rest_dash;
    int pos_min, pos_max, choice_at, nchoice;
    char *choice[MAXVALS];
    int nopt;
    struct opt opts[MAXOPT];
};

static struct {
    int exit_unknown, exit_missing, exit_badvalue, exit_repeat, nocase, long_eq, short_attach;
    int strict;
    char prefix[4];
    int nscope, nundef;
    char *undef[MAXVALS];
    struct scope scopes[MAXSCOPE];
} G;

static int eq(const char *a, const char *b) {
    if (!G.nocase) return strcmp(a, b) == 0;
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static int in_list(char **list, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (eq(list[i], s)) return 1;
    return 0;
}

static int is_option_word(const char *w) {
    return w[0] && w[1] && strchr(G.prefix, w[0]) != NULL;
}

/* Option words are written with '-' in the grammar; "/name" means "-name" where '/' is a prefix. */
static void normalise(char *dst, const char *w, size_t n) {
    snprintf(dst, n, "%s", w);
    if (dst[0] == '/') dst[0] = '-';
}

static int split_words(char *line, char **out, int max) {
    int n = 0;
    for (char *t = strtok(line, " \t"); t && n < max; t = strtok(NULL, " \t")) out[n++] = strdup(t);
    return n;
}

/* One option per line: NAMES are its aliases ("value -r --root-prefix"); for choice and list
 * the first word is the name and the others its values. */
static int add_opt(struct scope *s, enum kind k, char **w, int n) {
    if (s->nopt == MAXOPT || n < 1) return 0;
    struct opt *o = &s->opts[s->nopt++];
    o->kind = k;
    int names = (k == K_CHOICE || k == K_LIST) ? 1 : n;
    o->nnames = names < MAXNAMES ? names : MAXNAMES;
    for (int i = 0; i < o->nnames; i++) o->names[i] = w[i];
    o->nvals = n - names < MAXVALS ? n - names : MAXVALS;
    for (int i = 0; i < o->nvals; i++) o->vals[i] = w[names + i];
    return 1;
}

int grammar_load(FILE *f, const char *path, char *err, size_t errn) {
    memset(&G, 0, sizeof G);
    strcpy(G.prefix, "-");
    G.exit_unknown = G.exit_missing = G.exit_badvalue = 2;
    struct scope *s = &G.scopes[G.nscope++];
    s->name = strdup(".");
    s->pos_max = 0;
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *w[MAXVALS + 2];
        int n = line[0] == '#' ? 0 : split_words(line, w, MAXVALS + 2);
        if (n == 0) continue;
        const char *d = w[0];
        int ok = 1;
        if (!strcmp(d, "exit-unknown")) G.exit_unknown = atoi(w[1]);
        else if (!strcmp(d, "exit-missing")) G.exit_missing = atoi(w[1]);
        else if (!strcmp(d, "exit-badvalue")) G.exit_badvalue = atoi(w[1]);
        else if (!strcmp(d, "exit-repeat")) G.exit_repeat = atoi(w[1]);
        else if (!strcmp(d, "prefix")) snprintf(G.prefix, sizeof G.prefix, "%s", w[1]);
        else if (!strcmp(d, "nocase")) G.nocase = 1;
        else if (!strcmp(d, "long-eq")) G.long_eq = 1;
        else if (!strcmp(d, "short-attach")) G.short_attach = 1;
        else if (!strcmp(d, "strict-values")) G.strict = 1;
        else if (!strcmp(d, "scope") && n >= 2 && G.nscope < MAXSCOPE) {
            s = &G.scopes[G.nscope++];
            s->name = w[1];
            s->verb = n >= 3 && !strcmp(w[2], "verb");
        } else if (!strcmp(d, "flag")) ok = add_opt(s, K_FLAG, w + 1, n - 1);
        else if (!strcmp(d, "value")) ok = add_opt(s, K_VALUE, w + 1, n - 1);
        else if (!strcmp(d, "repeat")) ok = add_opt(s, K_REPEAT, w + 1, n - 1);
        else if (!strcmp(d, "int")) ok = add_opt(s, K_INT, w + 1, n - 1);
        else if (!strcmp(d, "multi")) ok = add_opt(s, K_MULTI, w + 1, n - 1);
        else if (!strcmp(d, "eqvalue")) ok = add_opt(s, K_EQ, w + 1, n - 1);
        else if (!strcmp(d, "ends")) ok = add_opt(s, K_ENDS, w + 1, n - 1);
        else if (!strcmp(d, "choice") && n >= 3) ok = add_opt(s, K_CHOICE, w + 1, n - 1);
        else if (!strcmp(d, "list") && n >= 3) ok = add_opt(s, K_LIST, w + 1, n - 1);
        else if (!strcmp(d, "positional") && n == 3) {
            s->pos_min = atoi(w[1]);
            s->pos_max = strcmp(w[2], "*") ? atoi(w[2]) : 1 << 30;
        } else if (!strcmp(d, "poschoice") && n >= 3) {
            s->choice_at = atoi(w[1]);
            s->nchoice = n - 2 < MAXVALS ? n - 2 : MAXVALS;
            for (int i = 0; i < s->nchoice; i++) s->choice[i] = w[i + 2];
        } else if (!strcmp(d, "inherit")) s->inherit = 1;
        else if (!strcmp(d, "rest")) s->rest = 1;
        else if (!strcmp(d, "prefix-command")) s->prefix_command = s->rest = 1;
        else if (!strcmp(d, "rest-required")) s->rest_required = atoi(w[1]);
        else if (!strcmp(d, "rest-dash")) s->rest_dash = atoi(w[1]);
        else if (!strcmp(d, "undefined"))
            for (int i = 1; i < n && G.nundef < MAXVALS; i++) G.undef[G.nundef++] = w[i];
        else ok = 0;
        if (!ok) {
            snprintf(err, errn, "%s:%d: bad directive: %s", path, lineno, d);
            return -1;
        }
    }
    return 0;
}

static struct opt *find_opt(struct scope *s, const char *name) {
    for (int pass = 0; pass < 2; pass++) {
        struct scope *in = pass == 0 ? s : (s->inherit ? &G.scopes[0] : NULL);
        if (!in) break;
        for (int i = 0; i < in->nopt; i++)
            if (in_list(in->opts[i].names, in->opts[i].nnames, name)) return &in->opts[i];
    }
    return NULL;
}

static struct scope *find_scope(const char *word, int verb) {
    char buf[256];
    for (int i = 1; i < G.nscope; i++) {
        if (G.scopes[i].verb != verb) continue;
        snprintf(buf, sizeof buf, "%s%s", verb ? "-" : "", G.scopes[i].name);
        if (eq(buf, word)) return &G.scopes[i];
    }
    return NULL;
}

#define FAIL(code, ...) do { snprintf(msg, msgn, __VA_ARGS__); return (code); } while (0)

/* Checks a value against its option's kind; returns 0 or an exit code. */
static int check_value(struct opt *o, const char *name, const char *v, char *msg, size_t msgn) {
    if (G.strict && is_option_word(v)) FAIL(G.exit_missing, "%s needs a value, got option %s", name, v);
    if (o->kind == K_INT) {
        if (!*v) FAIL(G.exit_badvalue, "%s needs an integer", name);
        for (const char *p = v; *p; p++)
            if (!isdigit((unsigned char)*p)) FAIL(G.exit_badvalue, "%s needs an integer, got %s", name, v);
    }
    if (o->kind == K_CHOICE && !in_list(o->vals, o->nvals, v))
        FAIL(G.exit_badvalue, "%s: %s is not one of its values", name, v);
    if (o->kind == K_LIST) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", v);
        if (!*buf) FAIL(G.exit_badvalue, "%s: empty list", name);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
            if (!in_list(o->vals, o->nvals, t)) FAIL(G.exit_badvalue, "%s: %s is not one of its values", name, t);
    }
    return 0;
}

int grammar_check(int argc, char **argv, char *msg, size_t msgn, int *rest_at) {
    struct scope *s = &G.scopes[0];
    int npos = 0, rest = -1, nseen = 0;
    struct opt *seen[MAXOPT]; /* one-value options given so far in this scope */
    char word[1024];
    *rest_at = -1;
    for (int i = 1; i < argc && rest < 0; i++) {
        const char *w = argv[i];
        if (!is_option_word(w)) {
            struct scope *sub = s == &G.scopes[0] && npos == 0 ? find_scope(w, 0) : NULL;
            if (sub) { s = sub; npos = 0; nseen = 0; continue; }
            if (s == &G.scopes[0] && in_list(G.undef, G.nundef, w))
                FAIL(199, "double: the grammar of subcommand %s is not transcribed", w);
            if (s->rest) { rest = i; break; }
            if (++npos > s->pos_max) FAIL(G.exit_unknown, "unexpected argument: %s", w);
            if (s->nchoice && npos == s->choice_at && !in_list(s->choice, s->nchoice, w))
                FAIL(G.exit_badvalue, "%s is not one of the accepted values", w);
            continue;
        }
        normalise(word, w, sizeof word);
        if (s == &G.scopes[0]) {
            struct scope *verb = find_scope(word, 1);
            if (verb) { s = verb; npos = 0; nseen = 0; continue; }
        }
        const char *attached = NULL;
        struct opt *o = NULL;
        char *eqsign = strchr(word, '=');
        if (eqsign && word[1] == '-') {
            /* --name=value: for CLI11 (long-eq) any long option; else only the =-only forms */
            *eqsign = 0;
            o = find_opt(s, word);
            if (o && !G.long_eq && o->kind != K_EQ && o->kind != K_LIST) o = NULL;
            if (o) attached = eqsign + 1;
            else *eqsign = '=';
        }
        if (!o) o = find_opt(s, word);
        if (!o && G.short_attach && word[1] != '-') {
            /* -xyz: flags x and y, or x taking "yz" as its value */
            for (size_t k = 1; word[k]; k++) {
                char name[3] = {'-', word[k], 0};
                struct opt *so = find_opt(s, name);
                if (!so) {
                    if (k == 1) break;
                    FAIL(G.exit_unknown, "unknown option -%c in %s", word[k], w);
                }
                if (so->kind == K_FLAG && word[k + 1]) continue;
                o = so;
                if (so->kind != K_FLAG && word[k + 1]) attached = w + k + 1;
                snprintf(word, sizeof word, "%s", name);
                break;
            }
        }
        if (!o) {
            if (s->prefix_command) { rest = i; break; }
            FAIL(G.exit_unknown, "the following argument was not expected: %s", w);
        }
        if (o->kind == K_FLAG) continue;
        if (G.exit_repeat && o->kind != K_MULTI && o->kind != K_LIST && o->kind != K_REPEAT) {
            for (int k = 0; k < nseen; k++)
                if (seen[k] == o) FAIL(G.exit_repeat, "%s: 1 required but received 2", word);
            if (nseen < MAXOPT) seen[nseen++] = o;
        }
        if ((o->kind == K_EQ || o->kind == K_LIST) && !attached)
            FAIL(G.exit_missing, "%s needs its value as %s=VALUE", word, word);
        const char *v = attached;
        if (!v) {
            if (i + 1 >= argc) FAIL(G.exit_missing, "%s requires a value", word);
            v = argv[++i];
        }
        int rc = check_value(o, word, v, msg, msgn);
        if (rc) return rc;
        if (o->kind == K_MULTI)
            while (i + 1 < argc && !is_option_word(argv[i + 1])) i++;
        if (o->kind == K_ENDS) { rest = i + 1; break; }
    }
    if (rest < 0 && npos < s->pos_min) FAIL(G.exit_missing, "too few arguments");
    if (s->rest) {
        if ((rest < 0 || rest >= argc) && s->rest_required)
            FAIL(s->rest_required, "no command given");
        if (rest >= 0 && rest < argc && s->rest_dash && is_option_word(argv[rest]))
            FAIL(s->rest_dash, "'%s' is not recognized as an internal or external command,\n"
                 "operable program or batch file.", argv[rest]);
    }
    *rest_at = rest;
    return 0;
}
