#ifndef ASSAY_CSHIMS_H
#define ASSAY_CSHIMS_H
#include <stdint.h>
#include <signal.h>
// glibc's malloc_trim (malloc.h is not part of Swift's Glibc module): a job worker hands the
// heap its last job freed (a page image, tesseract's copies) back to the system.
#include <malloc.h>

// The worker scoreboard lives in a MAP_SHARED mapping that the master and every
// worker process see. Swift has no atomics that can be placed on such raw memory,
// so these wrappers expose the compiler's atomic builtins for 64-bit slots.
static inline uint64_t assay_atomic_load_u64(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void assay_atomic_store_u64(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint64_t assay_atomic_add_u64(uint64_t *p, uint64_t v) {
    return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL);
}

// The pool's shared tables (metrics, quotas): a file of `size` bytes under `directory`, named
// from `template_name` (ending in XXXXXX, as mkstemp wants), unlinked at once and mapped
// MAP_SHARED; the master makes it and every worker inherits the descriptor. Sparse: pages never
// touched cost no memory. Every table starts with the same header words: 0 magic (stored last,
// so a table is never seen half made), 1 version, 2 capacity (entries); the rest is the table's.
// Returns the mapping and sets *fd; or NULL with errno set and *failed naming the call.
uint64_t *assay_shared_table_create(const char *directory, const char *template_name, size_t size, uint64_t magic,
                                    uint64_t version, uint64_t capacity, int *fd, const char **failed);
// Maps the whole file of an inherited descriptor and sets *size, when it holds a table of this
// magic and version at least `min_size` bytes long; NULL as above (EINVAL: another table).
uint64_t *assay_shared_table_attach(int fd, uint64_t magic, uint64_t version, size_t min_size, size_t *size,
                                    const char **failed);

// A process-wide write lock on byte `byte` of `fd`'s file (fcntl F_SETLKW), or its release
// (`lock` = 0): processes that share a mapping of the file take turns; the kernel releases the
// lock of a process that dies. Returns 0, or -1 with errno (EINTR retried).
int assay_file_lock(int fd, int byte, int lock);

// Installs a signal handler without SA_RESTART, so a blocking accept() or poll()
// returns EINTR and the loop notices the flag. Swift's `sigaction` struct has a
// union member that is awkward to fill from Swift.
int assay_install_handler(int signo, void (*handler)(int));

// On a crash signal, copies what is still unread in `pipe_read_fd` (the captured stderr's
// read end) to `log_fd` as JSON lines, then lets the previous handler run.
int assay_drain_output_on_crash(int pipe_read_fd, int log_fd);
#endif
