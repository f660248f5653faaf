#include "CShims.h"
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

uint64_t *assay_shared_table_create(const char *directory, const char *template_name, size_t size, uint64_t magic,
                                    uint64_t version, uint64_t capacity, int *fd, const char **failed) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", directory, template_name) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        *failed = "mkstemp";
        return NULL;
    }
    int file = mkstemp(path);
    if (file < 0) {
        *failed = "mkstemp";
        return NULL;
    }
    unlink(path);
    if (ftruncate(file, (off_t)size) != 0) {
        int code = errno;
        close(file);
        errno = code;
        *failed = "ftruncate";
        return NULL;
    }
    uint64_t *words = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
    if (words == MAP_FAILED) {
        int code = errno;
        close(file);
        errno = code;
        *failed = "mmap";
        return NULL;
    }
    words[1] = version;
    words[2] = capacity;
    assay_atomic_store_u64(words, magic);
    *fd = file;
    return words;
}

uint64_t *assay_shared_table_attach(int fd, uint64_t magic, uint64_t version, size_t min_size, size_t *size,
                                    const char **failed) {
    struct stat info;
    if (fstat(fd, &info) != 0) {
        *failed = "fstat";
        return NULL;
    }
    if ((size_t)info.st_size < min_size || (size_t)info.st_size < 3 * sizeof(uint64_t)) {
        errno = EINVAL;
        *failed = "attach (not a table of this kind and version)";
        return NULL;
    }
    uint64_t *words = mmap(NULL, (size_t)info.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (words == MAP_FAILED) {
        *failed = "mmap";
        return NULL;
    }
    if (assay_atomic_load_u64(words) != magic || words[1] != version) {
        munmap(words, (size_t)info.st_size);
        errno = EINVAL;
        *failed = "attach (not a table of this kind and version)";
        return NULL;
    }
    *size = (size_t)info.st_size;
    return words;
}

int assay_file_lock(int fd, int byte, int lock) {
    struct flock range;
    memset(&range, 0, sizeof range);
    range.l_type = lock ? F_WRLCK : F_UNLCK;
    range.l_whence = SEEK_SET;
    range.l_start = byte;
    range.l_len = 1;
    int result;
    do {
        result = fcntl(fd, F_SETLKW, &range);
    } while (result == -1 && errno == EINTR);
    return result;
}

int assay_install_handler(int signo, void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: interrupt blocking calls */
    return sigaction(signo, &sa, NULL);
}

/* --- Native output at a crash (NativeOutput.swift) ---------------------------------------
 * A process that captures its stderr in a pipe logs it from a thread, which dies with the
 * process: what the Swift runtime or a C library printed just before a crash (a fatal error
 * message, an assertion) would be lost. On a crash signal this handler copies what is still in
 * the pipe to the log, one JSON line per line, then hands the signal to the handler that was
 * there before (the Swift runtime's backtracer, or the default action). Only async-signal-safe
 * calls: poll, read, write, sigaction, raise. */
static int crash_pipe_fd = -1, crash_log_fd = -1;
static struct sigaction crash_previous[32];
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE};

static void crash_put(char *out, size_t *used, size_t size, const char *text, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (*used >= size) {
            (void)!write(crash_log_fd, out, *used);
            *used = 0;
        }
        out[(*used)++] = text[i];
    }
}

static void crash_drain(int signo) {
    char in[4096], out[1024];
    size_t used = 0;
    int open_line = 0;
    static const char prefix[] = "{\"level\":\"critical\",\"msg\":\"native output\",\"crash\":true,\"line\":\"";
    static const char hex[] = "0123456789abcdef";
    ssize_t count;
    struct pollfd ready = {.fd = crash_pipe_fd, .events = POLLIN};
    while (poll(&ready, 1, 0) > 0 && (ready.revents & POLLIN) && (count = read(crash_pipe_fd, in, sizeof in)) > 0) {
        for (ssize_t i = 0; i < count; i++) {
            unsigned char c = (unsigned char)in[i];
            if (!open_line) {
                if (c == '\n') continue;
                crash_put(out, &used, sizeof out, prefix, sizeof prefix - 1);
                open_line = 1;
            }
            if (c == '\n') {
                crash_put(out, &used, sizeof out, "\"}\n", 3);
                open_line = 0;
            } else if (c == '"' || c == '\\') {
                char escaped[2] = {'\\', (char)c};
                crash_put(out, &used, sizeof out, escaped, 2);
            } else if (c < 0x20) {
                char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                crash_put(out, &used, sizeof out, escaped, 6);
            } else {
                crash_put(out, &used, sizeof out, (const char *)&c, 1);
            }
        }
    }
    if (open_line) crash_put(out, &used, sizeof out, "\"}\n", 3);
    if (used > 0) (void)!write(crash_log_fd, out, used);
    sigaction(signo, &crash_previous[signo], NULL);
    raise(signo);
}

int assay_drain_output_on_crash(int pipe_read_fd, int log_fd) {
    crash_pipe_fd = pipe_read_fd;
    crash_log_fd = log_fd;
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) {
        int signo = crash_signals[i];
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = crash_drain;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        if (sigaction(signo, &sa, &crash_previous[signo]) != 0) return -1;
    }
    return 0;
}
