import ServiceLifecycle

/// The loop of a periodic service: runs `work` every `interval` until graceful shutdown or cancellation.
enum PeriodicLoop {
    /// When the first run happens: at once, or after one interval.
    enum Start {
        case now
        case afterInterval
    }

    static func run(every interval: Duration, start: Start, _ work: @escaping @Sendable () async -> Void) async {
        await cancelWhenGracefulShutdown {
            if start == .afterInterval, !(await pause(interval)) { return }
            while !Task.isCancelled {
                await work()
                guard await pause(interval) else { return }
            }
        }
    }

    /// Sleeps for `interval`; false when the task was cancelled meanwhile.
    private static func pause(_ interval: Duration) async -> Bool {
        do {
            try await Task.sleep(for: interval)
            return true
        } catch {
            return false
        }
    }
}
