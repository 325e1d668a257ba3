import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One run of an external program that must not be trusted with the gateway's secrets or resources:
/// started with `posix_spawn` in a process group of its own, with exactly the environment given (none by
/// default), stdin and stderr on /dev/null, every other descriptor closed, default signal dispositions (the
/// gateway ignores SIGPIPE; a child must not), and its stdout read in 64 KiB pieces up to a cap. The whole
/// group is killed with SIGKILL when the output passes the cap, at the deadline, or when the calling task is
/// cancelled, and always before the child is reaped, so nothing it started outlives the run.
///
/// CPU and memory limits are not applied here: `posix_spawn` cannot call `setrlimit` in the child, so the
/// caller puts a limiter in front of the program (see ``ResourceLimiter``), which sets them and then execs it
/// under the same process id.
enum FencedProcess {
    /// How a run ended.
    enum Ending: Sendable, Equatable {
        /// The program closed its output and exited with this status.
        case exited(Int32)
        /// The program was killed by this signal, not by the gateway (a resource limit or a crash).
        case signalled(Int32)
        /// The deadline passed; the group was killed.
        case timedOut
        /// The output went past the cap; the group was killed.
        case outputCapExceeded
        /// The calling task was cancelled; the group was killed.
        case cancelled
    }

    struct Outcome: Sendable {
        var ending: Ending
        /// The output read, at most the cap (what had been read when the run ended).
        var output: [UInt8]
        /// Bytes read from the program in all (beyond the cap too: the piece that crossed it).
        var bytesRead: Int
        /// The program's process id (also its process group id); reaped by the time the outcome exists.
        var pid: pid_t
    }

    struct SpawnError: Error, CustomStringConvertible {
        let call: String
        let code: Int32
        var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
    }

    static let readSize = 64 * 1024

    /// Runs `arguments[0]` (an absolute path) with `arguments` as its argv. Returns when the program has
    /// exited and been reaped, whatever the ending; throws only when it could not be started.
    static func run(
        _ arguments: [String], environment: [String] = [], timeout: Duration, maxOutputBytes: Int
    ) async throws -> Outcome {
        try Task.checkCancellation()
        #if canImport(Glibc)
            let child = try Child.spawn(arguments, environment: environment)
            return await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                    // Blocking reads and waits belong on a thread of their own, not on the cooperative pool.
                    Thread.detachNewThread {
                        continuation.resume(returning: child.drive(timeout: timeout, maxOutputBytes: maxOutputBytes))
                    }
                }
            } onCancel: {
                child.cancel()
            }
        #else
            // Linux only (process groups, /proc, glibc's siginfo); elsewhere the program is not run at all.
            throw SpawnError(call: "posix_spawn", code: ENOSYS)
        #endif
    }

    /// Whether `pid` names a process that is still running (not gone, not a zombie), from `/proc`.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X" && state != nil
    }
}

#if canImport(Glibc)
    extension FencedProcess {
        /// A spawned child and the descriptors that watch it. Shared between the thread that drives it and the
        /// cancellation handler; everything mutable is behind `state`.
        final class Child: Sendable {
            let pid: pid_t
            private let output: Int32
            private let wakeRead: Int32
            private let wakeWrite: Int32

            private struct State {
                var cancelled = false
                /// Set once the child is reaped: from then on its pid (and group id) may name another process.
                var reaped = false
                /// Set once the descriptors are closed: from then on their numbers may be reused.
                var closed = false
            }

            private let state = Mutex(State())

            private init(pid: pid_t, output: Int32, wakeRead: Int32, wakeWrite: Int32) {
                self.pid = pid
                self.output = output
                self.wakeRead = wakeRead
                self.wakeWrite = wakeWrite
            }

            static func spawn(_ arguments: [String], environment: [String]) throws -> Child {
                // A fenced program is named by its absolute path: there is no PATH to search.
                guard arguments.first?.hasPrefix("/") == true else { throw SpawnError(call: "posix_spawn", code: EINVAL) }
                let out = try makePipe()
                let wake: (read: Int32, write: Int32)
                do {
                    wake = try makePipe()
                } catch {
                    close(out.read)
                    close(out.write)
                    throw error
                }
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                defer { posix_spawn_file_actions_destroy(&actions) }
                // dup2 first: should the pipe have landed on 0 or 2, the opens below must not clobber it first.
                posix_spawn_file_actions_adddup2(&actions, out.write, 1)
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
                closeInheritedDescriptors(&actions)

                var attributes = posix_spawnattr_t()
                posix_spawnattr_init(&attributes)
                defer { posix_spawnattr_destroy(&attributes) }
                var all = sigset_t()
                sigfillset(&all)
                var none = sigset_t()
                sigemptyset(&none)
                posix_spawnattr_setsigdefault(&attributes, &all)
                posix_spawnattr_setsigmask(&attributes, &none)
                posix_spawnattr_setpgroup(&attributes, 0)
                posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

                var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
                var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
                defer {
                    for p in argv { free(p) }
                    for p in envp { free(p) }
                }
                var pid: pid_t = 0
                let result = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, &envp)
                close(out.write)
                guard result == 0 else {
                    close(out.read)
                    close(wake.read)
                    close(wake.write)
                    throw SpawnError(call: "posix_spawn", code: result)
                }
                return Child(pid: pid, output: out.read, wakeRead: wake.read, wakeWrite: wake.write)
            }

            /// A pipe whose ends are closed on exec (the child gets its end through dup2, which clears the flag),
            /// made so atomically (`pipe2` with `O_CLOEXEC`): a conversion spawned at the same moment on another
            /// thread cannot inherit this one's ends.
            private static func makePipe() throws -> (read: Int32, write: Int32) {
                var fds: [Int32] = [-1, -1]
                if let pipe2 = Self.pipe2 {
                    guard pipe2(&fds, Int32(O_CLOEXEC)) == 0 else { throw SpawnError(call: "pipe2", code: errno) }
                } else {
                    guard pipe(&fds) == 0 else { throw SpawnError(call: "pipe", code: errno) }
                    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
                    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
                }
                return (fds[0], fds[1])
            }

            private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32

            /// glibc's `pipe2`, looked up at run time because Swift's Glibc module hides GNU extensions.
            private static let pipe2: Pipe2? = {
                guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "pipe2") else { return nil }
                return unsafeBitCast(symbol, to: Pipe2.self)
            }()

            private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

            /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), looked up at run time because
            /// Swift's Glibc module hides GNU extensions.
            private static let closeFrom: CloseFrom? = {
                guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
                return unsafeBitCast(symbol, to: CloseFrom.self)
            }()

            /// Closes every descriptor above 2 in the child: with `closefrom` when the C library has it, else each
            /// open descriptor without close-on-exec, as listed in /proc/self/fd.
            private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
                if let closeFrom, closeFrom(&actions, 3) == 0 { return }
                let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
                for fd in names.compactMap(Int32.init) where fd > 2 {
                    let flags = fcntl(fd, F_GETFD)
                    if flags >= 0, flags & FD_CLOEXEC == 0 { posix_spawn_file_actions_addclose(&actions, fd) }
                }
            }

            /// Kills the child's group and wakes the thread driving it. Safe to call at any time, any number of times.
            func cancel() {
                state.withLock { s in
                    s.cancelled = true
                    if !s.reaped { killpg(pid, SIGKILL) }
                    if !s.closed {
                        var byte: UInt8 = 1
                        _ = write(wakeWrite, &byte, 1)
                    }
                }
            }

            /// Reads the output until it ends, passes the cap or the deadline, or the run is cancelled; then kills
            /// the group, reaps the child and closes everything. Blocks: run it on a thread of its own.
            func drive(timeout: Duration, maxOutputBytes: Int) -> Outcome {
                let deadline = ContinuousClock.now + timeout
                var collected: [UInt8] = []
                collected.reserveCapacity(min(maxOutputBytes, FencedProcess.readSize))
                var bytesRead = 0
                var ending: Ending?
                var buffer = [UInt8](repeating: 0, count: FencedProcess.readSize)
                var endOfOutput = false
                while ending == nil, !endOfOutput {
                    guard let wait = millisecondsLeft(until: deadline) else {
                        ending = .timedOut
                        break
                    }
                    var fds = [pollfd(fd: output, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                    let ready = poll(&fds, 2, wait)
                    if ready < 0 {
                        if errno == EINTR { continue }
                        // Cannot happen but for lack of kernel memory: stop reading; the wait below keeps the deadline.
                        endOfOutput = true
                        break
                    }
                    if fds[1].revents != 0 || state.withLock({ $0.cancelled }) {
                        ending = .cancelled
                        break
                    }
                    guard fds[0].revents != 0 else { continue }
                    let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
                    if n < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        endOfOutput = true
                    } else if n == 0 {
                        endOfOutput = true
                    } else {
                        bytesRead += n
                        if collected.count + n > maxOutputBytes {
                            collected.append(contentsOf: buffer[0..<(maxOutputBytes - collected.count)])
                            ending = .outputCapExceeded
                        } else {
                            collected.append(contentsOf: buffer[0..<n])
                        }
                    }
                }
                if ending == nil { ending = waitForExit(deadline: deadline) }
                let status = finish()
                let final: Ending
                switch ending {
                case nil: final = status
                case let other?: final = other
                }
                return Outcome(ending: final, output: collected, bytesRead: bytesRead, pid: pid)
            }

            /// After the output ended: waits for the child to exit, until the deadline or a cancellation.
            /// Returns nil when it exited (its status is read when it is reaped).
            private func waitForExit(deadline: ContinuousClock.Instant) -> Ending? {
                var pause: Int32 = 1
                while true {
                    var info = siginfo_t()
                    if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid != 0 { return nil }
                    guard let left = millisecondsLeft(until: deadline) else { return .timedOut }
                    var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                    _ = poll(&fds, 1, min(pause, left))
                    if fds[0].revents != 0 || state.withLock({ $0.cancelled }) { return .cancelled }
                    pause = min(pause * 2, 50)
                }
            }

            /// Kills whatever is left of the group (the leader, alive or a zombie, keeps the group id valid until
            /// it is reaped), waits for the leader, reaps it and closes the descriptors. Returns how it ended.
            private func finish() -> Ending {
                // Only this thread reaps, so the group id is still this child's here.
                killpg(pid, SIGKILL)
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
                let code = info._sifields._sigchld.si_status
                let ending: Ending = info.si_code == CLD_EXITED ? .exited(code) : .signalled(code)
                state.withLock { s in
                    var status: Int32 = 0
                    _ = waitpid(pid, &status, WNOHANG)
                    s.reaped = true
                    s.closed = true
                    close(output)
                    close(wakeRead)
                    close(wakeWrite)
                }
                return ending
            }

            private func millisecondsLeft(until deadline: ContinuousClock.Instant) -> Int32? {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { return nil }
                let ms = left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
                return Int32(clamping: ms)
            }
        }
    }
#endif
