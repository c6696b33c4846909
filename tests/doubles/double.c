/* A test double for Windows programs that cannot exist on Linux CI (curl.exe, certutil.exe,
 * micromamba.exe, nvidia-smi.exe, vswhere.exe, python.exe, ...). One binary, copied under
 * each name; it learns its name from its own file name (curl.exe -> "curl").
 *
 Every call appends one JSON line to the log ({"prog","argv","cmdline","cwd"}, and "error"
 * for a call the real program would reject). Then, before any rule, the argv is checked against
 * the real program's grammar (grammar.c; tests/doubles/grammars/<name>.grammar cites where it
 * comes from): a call the real program rejects ends here with the real program's exit code.
 * Otherwise the first rule of the config that matches runs, or the default rule. Files (DIR =
 * %DOUBLE_DIR%, or the directory of the .exe when unset):
 *   DIR\calls.log        the log (%DOUBLE_LOG% overrides)
 *   DIR\<name>.grammar   the grammar (the test fixtures always copy it; absent: no check)
 *   DIR\<name>.double    the config (absent: log and exit 0)
 *
 * Config, one directive per line, '#' starts a comment line:
 *   when TOKEN...        starts a rule; it matches when every TOKEN equals some argument
 *                        (TOKEN "~text": some argument contains text). Lines before the
 *                        first "when" form the default rule.
 *   out TEXT             print TEXT and a newline on stdout (err: on stderr)
 *   err TEXT
 *   copy SRC|DEST[|N]    copy file SRC to DEST (parents created); with N only the first N bytes
 *   write DEST|TEXT      create DEST holding TEXT and a newline (parents created)
 *   mkdir DEST           create a directory and its parents
 *   hold DEST|MS         open DEST with no sharing (as a running program holding a lock file
 *                        would) and keep it open for MS milliseconds
 *   exit N               the exit code (default 0), applied after all actions
 * TEXT, SRC and DEST expand {after:FLAG} (the argument after FLAG), {arg:N} (argument N, the
 * first is 1), {env:NAME} and {cwd}.
 *
 * Build: x86_64-w64-mingw32-gcc -municode -O2 -o double.exe double.c grammar.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "grammar.h"

#define BIG 32768

static int g_argc;
static wchar_t **g_argv;

static char *to_utf8(const wchar_t *w) {
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = malloc(n > 0 ? n : 1);
    if (n <= 0) { s[0] = 0; return s; }
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

static wchar_t *from_utf8(const char *s) {
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = malloc(sizeof(wchar_t) * (n > 0 ? n : 1));
    if (n <= 0) { w[0] = 0; return w; }
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

static void json_str(FILE *f, const wchar_t *w) {
    char *s = to_utf8(w);
    fputc('"', f);
    for (unsigned char *p = (unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
    free(s);
}

/* Expand {after:X}, {arg:N}, {env:NAME}, {cwd} in a UTF-8 template into a wide string. */
static wchar_t *expand(const char *tmpl) {
    wchar_t *in = from_utf8(tmpl);
    wchar_t *out = calloc(BIG, sizeof(wchar_t));
    size_t o = 0;
    for (wchar_t *p = in; *p && o < BIG - 1;) {
        wchar_t *close = (*p == L'{') ? wcschr(p, L'}') : NULL;
        if (!close) { out[o++] = *p++; continue; }
        size_t len = close - p - 1;
        wchar_t key[1024] = {0};
        wcsncpy(key, p + 1, len < 1023 ? len : 1023);
        const wchar_t *val = NULL;
        wchar_t buf[BIG];
        if (!wcsncmp(key, L"after:", 6)) {
            for (int i = 1; i + 1 < g_argc; i++)
                if (!wcscmp(g_argv[i], key + 6)) { val = g_argv[i + 1]; break; }
        } else if (!wcsncmp(key, L"arg:", 4)) {
            int n = _wtoi(key + 4);
            if (n > 0 && n < g_argc) val = g_argv[n];
        } else if (!wcsncmp(key, L"env:", 4)) {
            if (GetEnvironmentVariableW(key + 4, buf, BIG)) val = buf;
        } else if (!wcscmp(key, L"cwd")) {
            if (GetCurrentDirectoryW(BIG, buf)) val = buf;
        } else {
            out[o++] = *p++;
            continue;
        }
        if (val) for (const wchar_t *v = val; *v && o < BIG - 1; v++) out[o++] = *v;
        p = close + 1;
    }
    free(in);
    return out;
}

static void make_dirs(const wchar_t *path, int include_last) {
    wchar_t buf[BIG];
    wcsncpy(buf, path, BIG - 1);
    buf[BIG - 1] = 0;
    size_t n = wcslen(buf);
    if (!include_last) {
        while (n > 0 && buf[n - 1] != L'\\' && buf[n - 1] != L'/') n--;
        buf[n] = 0;
    }
    for (size_t i = 3; i <= n; i++) {
        if (buf[i] == L'\\' || buf[i] == L'/' || buf[i] == 0) {
            wchar_t c = buf[i];
            buf[i] = 0;
            CreateDirectoryW(buf, NULL);
            buf[i] = c;
        }
    }
}

/* Split "a|b|c" in place; returns the number of fields (up to max). */
static int split_bar(char *s, char **fields, int max) {
    int n = 0;
    fields[n++] = s;
    for (char *p = s; *p && n < max; p++)
        if (*p == '|') { *p = 0; fields[n++] = p + 1; }
    return n;
}

static int copy_file(const wchar_t *src, const wchar_t *dst, long limit) {
    make_dirs(dst, 0);
    FILE *in = _wfopen(src, L"rb");
    if (!in) return 0;
    FILE *out = _wfopen(dst, L"wb");
    if (!out) { fclose(in); return 0; }
    char buf[65536];
    long total = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (limit >= 0 && total + (long)n > limit) n = (size_t)(limit - total);
        fwrite(buf, 1, n, out);
        total += (long)n;
        if (limit >= 0 && total >= limit) break;
    }
    fclose(in);
    fclose(out);
    return 1;
}

static int rule_matches(char *line) {
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        int contains = tok[0] == '~';
        wchar_t *want = from_utf8(contains ? tok + 1 : tok);
        int found = 0;
        for (int i = 1; i < g_argc && !found; i++)
            found = contains ? wcsstr(g_argv[i], want) != NULL : !wcscmp(g_argv[i], want);
        free(want);
        if (!found) return 0;
    }
    return 1;
}

static int run_action(const char *verb, char *rest, int *code) {
    char *f[3];
    if (!strcmp(verb, "exit")) { *code = atoi(rest); return 1; }
    if (!strcmp(verb, "out") || !strcmp(verb, "err")) {
        wchar_t *w = expand(rest);
        char *s = to_utf8(w);
        FILE *stream = verb[0] == 'o' ? stdout : stderr;
        fprintf(stream, "%s\n", s);
        fflush(stream);
        free(s);
        free(w);
        return 1;
    }
    if (!strcmp(verb, "mkdir")) {
        wchar_t *w = expand(rest);
        make_dirs(w, 1);
        free(w);
        return 1;
    }
    if (!strcmp(verb, "hold")) {
        int n = split_bar(rest, f, 2);
        wchar_t *dst = expand(f[0]);
        make_dirs(dst, 0);
        HANDLE h = CreateFileW(dst, GENERIC_WRITE, 0, NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
        free(dst);
        if (h == INVALID_HANDLE_VALUE) return 0;
        Sleep(n == 2 ? (DWORD)atol(f[1]) : 1000);
        CloseHandle(h);
        return 1;
    }
    if (!strcmp(verb, "copy")) {
        int n = split_bar(rest, f, 3);
        if (n < 2) return 0;
        wchar_t *src = expand(f[0]), *dst = expand(f[1]);
        int ok = copy_file(src, dst, n == 3 ? atol(f[2]) : -1);
        if (!ok) fwprintf(stderr, L"double: cannot copy %ls to %ls\n", src, dst);
        free(src);
        free(dst);
        return ok;
    }
    if (!strcmp(verb, "write")) {
        int n = split_bar(rest, f, 2);
        wchar_t *dst = expand(f[0]);
        wchar_t *text = expand(n == 2 ? f[1] : "");
        make_dirs(dst, 0);
        FILE *out = _wfopen(dst, L"wb");
        if (out) {
            char *s = to_utf8(text);
            fprintf(out, "%s\r\n", s);
            free(s);
            fclose(out);
        }
        free(dst);
        free(text);
        return out != NULL;
    }
    return 0;
}

int wmain(int argc, wchar_t **argv) {
    g_argc = argc;
    g_argv = argv;
    wchar_t exe[MAX_PATH], dir[BIG], name[MAX_PATH], path[BIG], cwd[BIG];
    GetModuleFileNameW(NULL, exe, MAX_PATH);
    wchar_t *slash = wcsrchr(exe, L'\\');
    wcsncpy(name, slash ? slash + 1 : exe, MAX_PATH - 1);
    wchar_t *dot = wcsrchr(name, L'.');
    if (dot) *dot = 0;
    for (wchar_t *p = name; *p; p++) *p = towlower(*p);
    if (!GetEnvironmentVariableW(L"DOUBLE_DIR", dir, BIG)) {
        wcsncpy(dir, exe, BIG - 1);
        wchar_t *s = wcsrchr(dir, L'\\');
        if (s) *s = 0;
    }
    GetCurrentDirectoryW(BIG, cwd);

    /* The grammar check comes first: its verdict is logged with the call. */
    char verdict[2048] = {0};
    int rejected = 0, rest_at = -1;
    _snwprintf(path, BIG, L"%ls\\%ls.grammar", dir, name);
    FILE *gf = _wfopen(path, L"rb");
    if (gf) {
        char **u8 = malloc(sizeof(char *) * (argc + 1));
        for (int i = 0; i < argc; i++) u8[i] = to_utf8(argv[i]);
        u8[argc] = NULL;
        char *gpath = to_utf8(path);
        if (grammar_load(gf, gpath, verdict, sizeof verdict) < 0) rejected = 198;
        else rejected = grammar_check(argc, u8, verdict, sizeof verdict, &rest_at);
        fclose(gf);
    }

    if (!GetEnvironmentVariableW(L"DOUBLE_LOG", path, BIG))
        _snwprintf(path, BIG, L"%ls\\calls.log", dir);
    FILE *log = _wfopen(path, L"ab");
    if (log) {
        fputs("{\"prog\": ", log);
        json_str(log, name);
        fputs(", \"argv\": [", log);
        for (int i = 1; i < argc; i++) {
            if (i > 1) fputs(", ", log);
            json_str(log, argv[i]);
        }
        fputs("], \"cmdline\": ", log);
        json_str(log, GetCommandLineW());
        fputs(", \"cwd\": ", log);
        json_str(log, cwd);
        if (rest_at > 0) fprintf(log, ", \"rest_at\": %d", rest_at);
        if (rejected) {
            wchar_t *w = from_utf8(verdict);
            fputs(", \"error\": ", log);
            json_str(log, w);
            free(w);
        }
        fputs("}\n", log);
        fclose(log);
    }
    if (rejected) {
        char *prog = to_utf8(name);
        fprintf(stderr, "%s: %s\n", prog, verdict);
        return rejected;
    }

    _snwprintf(path, BIG, L"%ls\\%ls.double", dir, name);
    FILE *cfg = _wfopen(path, L"rb");
    if (!cfg) return 0;
    /* Pass 1: find the matching rule (its line number); 0 = the default rule. */
    char line[BIG];
    long chosen = 0, lineno = 0;
    while (fgets(line, sizeof line, cfg)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!strncmp(line, "when", 4) && (line[4] == 0 || line[4] == ' ')) {
            if (rule_matches(line + 4)) { chosen = lineno; break; }
        }
    }
    /* Pass 2: run the actions of the chosen rule. */
    rewind(cfg);
    int code = 0, active = chosen == 0, failed = 0;
    lineno = 0;
    while (fgets(line, sizeof line, cfg)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#' || line[0] == 0) continue;
        if (!strncmp(line, "when", 4) && (line[4] == 0 || line[4] == ' ')) {
            if (active && lineno != chosen) break;
            active = lineno == chosen;
            continue;
        }
        if (!active) continue;
        char *sp = strchr(line, ' ');
        char *rest = sp ? sp + 1 : line + strlen(line);
        if (sp) *sp = 0;
        if (!run_action(line, rest, &code)) {
            fprintf(stderr, "double: bad or failed directive: %s %s\n", line, rest);
            failed = 1;
        }
    }
    fclose(cfg);
    return failed ? 199 : code;
}
