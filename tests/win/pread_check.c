/*
 * Exercises the Windows branch of recipes/ffcv's positional read (libffcv/ffcv_pread.h from
 * the patched sdist) as a real Windows program: built with mingw-w64, run under Wine by
 * tests/test_pread_wine.py. The file is opened with this program's own C runtime (_open),
 * and ffcv_pread_impl looks the descriptor up in that same runtime, as the extension does
 * with Python's descriptors.
 *
 * usage: pread_check.exe FILE      prints one "ok ..." line per check; exit 0 = all passed
 */
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ffcv_pread.h"

#define PATTERN_BYTES (8u << 20) /* 8 MiB of position-dependent bytes at the start */
#define THREADS 8
#define READS_PER_THREAD 4000

static unsigned char pattern_at(uint64_t offset)
{
    return (unsigned char)((offset * 2654435761u) >> 13);
}

static int failures = 0;
static int failures_before = 0;

/* Prints "ok NAME" or "FAILED NAME" for the checks since the previous section. */
static void section(const char *name)
{
    printf("%s %s\n", failures == failures_before ? "ok" : "FAILED", name);
    failures_before = failures;
}

static void check(int condition, const char *what, uint64_t offset)
{
    if (!condition) {
        printf("FAIL %s at offset %llu\n", what, (unsigned long long)offset);
        failures++;
    }
}

struct worker {
    int fd;
    unsigned seed;
    int bad;
};

static DWORD WINAPI reader(LPVOID arg)
{
    struct worker *w = (struct worker *)arg;
    unsigned char buf[4096];
    for (int i = 0; i < READS_PER_THREAD; i++) {
        w->seed = w->seed * 1103515245u + 12345u;
        uint64_t offset = (w->seed >> 4) % (PATTERN_BYTES - sizeof buf);
        uint64_t count = 1 + (w->seed % sizeof buf);
        if (ffcv_pread_impl(w->fd, buf, count, offset) != (int64_t)count) {
            w->bad++;
            continue;
        }
        for (uint64_t k = 0; k < count; k++) {
            if (buf[k] != pattern_at(offset + k)) {
                w->bad++;
                break;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct { uint64_t offset; const char *text; } marks[] = {
        {0xFFFFFFFEull, "across-4GiB"},   /* straddles the 32-bit offset boundary */
        {0x100000011ull, "beyond-4GiB"},
        {0x13FFFFFF0ull, "near-5GiB-end"},
    };
    const uint64_t file_size = 0x13FFFFFF0ull + 13; /* ends right after the last mark */
    if (argc != 2) {
        fprintf(stderr, "usage: pread_check.exe FILE\n");
        return 2;
    }

    /* Write the pattern, then the marks far out (the file system keeps the gap sparse). */
    int fd = _open(argv[1], _O_CREAT | _O_TRUNC | _O_RDWR | _O_BINARY, _S_IREAD | _S_IWRITE);
    if (fd < 0) {
        perror("open");
        return 3;
    }
    unsigned char *block = (unsigned char *)malloc(PATTERN_BYTES);
    for (uint64_t i = 0; i < PATTERN_BYTES; i++) {
        block[i] = pattern_at(i);
    }
    if (_write(fd, block, PATTERN_BYTES) != (int)PATTERN_BYTES) {
        perror("write");
        return 3;
    }
    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++) {
        _lseeki64(fd, (__int64)marks[m].offset, SEEK_SET);
        _write(fd, marks[m].text, (unsigned)strlen(marks[m].text));
    }
    _close(fd);

    fd = _open(argv[1], _O_RDONLY | _O_BINARY);
    if (fd < 0) {
        perror("reopen");
        return 3;
    }

    /* 1. Reads at many offsets, in an order unrelated to any file position. */
    unsigned char buf[64];
    for (uint64_t offset = PATTERN_BYTES - 64; offset > 64; offset = offset / 3 * 2) {
        int64_t got = ffcv_pread_impl(fd, buf, sizeof buf, offset);
        check(got == (int64_t)sizeof buf, "length", offset);
        for (size_t k = 0; k < sizeof buf; k++) {
            check(buf[k] == pattern_at(offset + k), "pattern byte", offset + k);
        }
    }
    section("pattern reads at descending offsets");

    /* 2. Offsets that need the high 32 bits (OVERLAPPED.OffsetHigh). */
    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++) {
        size_t len = strlen(marks[m].text);
        memset(buf, 0, sizeof buf);
        int64_t got = ffcv_pread_impl(fd, buf, len, marks[m].offset);
        check(got == (int64_t)len && memcmp(buf, marks[m].text, len) == 0, marks[m].text,
              marks[m].offset);
    }
    section("reads at and beyond 4 GiB");

    /* 3. End of file: a short read, then nothing. */
    check(ffcv_pread_impl(fd, buf, sizeof buf, file_size - 5) == 5, "short read at end",
          file_size - 5);
    check(ffcv_pread_impl(fd, buf, sizeof buf, file_size + 4096) == 0, "read past end",
          file_size + 4096);
    section("end of file");

    /* 4. Many threads reading one descriptor at once. */
    HANDLE threads[THREADS];
    struct worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t].fd = fd;
        workers[t].seed = 7919u * (unsigned)(t + 1);
        workers[t].bad = 0;
        threads[t] = CreateThread(NULL, 0, reader, &workers[t], 0, NULL);
    }
    WaitForMultipleObjects(THREADS, threads, TRUE, INFINITE);
    for (int t = 0; t < THREADS; t++) {
        check(workers[t].bad == 0, "concurrent reads", (uint64_t)t);
        CloseHandle(threads[t]);
    }
    section("8 threads x 4000 concurrent reads");

    /* 5. A descriptor that is not open is an error, not a read from somewhere else. */
    _close(fd);
    errno = 0;
    check(ffcv_pread_impl(fd, buf, sizeof buf, 0) == -1 && errno == EBADF, "closed fd", 0);
    section("closed descriptor -> -1/EBADF");

    free(block);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
