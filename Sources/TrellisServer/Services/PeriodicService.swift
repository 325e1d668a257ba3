import ServiceLifecycle

/// A service that does one round of work every `interval` until graceful shutdown or cancellation.
protocol PeriodicService: Service {
    var interval: Duration { get }
    /// Whether the first round waits one interval, rather than running at start.
    var waitsBeforeFirstRound: Bool { get }
    /// One round; its failures are its own to log.
    func round() async
}

extension PeriodicService {
    func run() async throws {
        await runRounds()
    }

    /// The rounds, one every interval, until graceful shutdown or cancellation (for a service whose own `run`
    /// decides first whether to run them).
    func runRounds() async {
        await cancelWhenGracefulShutdown {
            if waitsBeforeFirstRound, !(await pause()) { return }
            while !Task.isCancelled {
                await round()
                guard await pause() else { return }
            }
        }
    }

    /// Sleeps for one interval; false when the task was cancelled meanwhile.
    private func pause() async -> Bool {
        do {
            try await Task.sleep(for: interval)
            return true
        } catch {
            return false
        }
    }
}
