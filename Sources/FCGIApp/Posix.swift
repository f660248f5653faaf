import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: its name and errno, for logs and error messages.
struct SystemError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32

    var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Runs a system call, retrying on EINTR; a negative result throws `SystemError`.
@discardableResult
func syscall<T: BinaryInteger>(_ name: String, _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(call: name, errno: code)
    }
}

/// How a child process ended, decoded from `waitpid`'s status by hand because the
/// `WIFEXITED` family of macros does not import into Swift.
enum ExitStatus: CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(waitStatus status: Int32) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f)
        }
    }

    var isClean: Bool {
        if case .exited(0) = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .exited(let code): "exit code \(code)"
        case .signaled(let signal): "signal \(signal) (\(String(cString: strsignal(signal))))"
        }
    }
}

/// Starts `executable` with `arguments`, duplicating `fileDescriptors` (child fd ← parent fd)
/// into the child, with default signal handling and an empty signal mask.
func spawn(executable: String, arguments: [String], environment: [String], fileDescriptors: [(child: Int32, parent: Int32)]) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for (child, parent) in fileDescriptors {
        posix_spawn_file_actions_adddup2(&actions, parent, child)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigfillset(&defaults)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    var pid: pid_t = 0
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    guard result == 0 else { throw SystemError(call: "posix_spawn", errno: result) }
    return pid
}

/// Writes all of `bytes` to a file descriptor, retrying short writes and EINTR.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}

/// This process's peak resident memory (the kernel's VmHWM), reset per job so that each
/// job's own peak is logged, and visible to a benchmark or test in `/proc/PID/status`.
enum PeakMemory {
    /// Starts a new peak at the current resident size (Linux: `5` to `/proc/self/clear_refs`).
    static func reset() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = write(fd, "5", 1)
    }

    /// The peak resident memory since the last reset, in kilobytes (nil where /proc says nothing).
    static func kilobytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
    }
}
