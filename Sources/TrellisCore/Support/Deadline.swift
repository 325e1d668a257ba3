import Synchronization

/// `operation`'s result, or `onTimeout()` thrown once `deadline` has passed, without waiting for `operation`
/// to end: it is cancelled and left to finish on its own. For checks that must keep their rhythm even when
/// what they call ignores cancellation (a store query on a connection that died without a word).
public func withDeadline<T: Sendable>(
    _ deadline: Duration, onTimeout: @escaping @Sendable () -> any Error, operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = Race<T>()
    let work = Task {
        do {
            race.finish(.success(try await operation()))
        } catch {
            race.finish(.failure(error))
        }
    }
    let timer = Task {
        try await Task.sleep(for: deadline)
        race.finish(.failure(onTimeout()))
    }
    defer {
        work.cancel()
        timer.cancel()
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { race.wait($0) }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The first of several outcomes, handed to one waiter whether it arrives before or after the waiter.
private final class Race<T: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<T, any Error>?)
        case finished(Result<T, any Error>)
        case delivered
    }

    private let state = Mutex(State.waiting(nil))

    func finish(_ result: Result<T, any Error>) {
        state.withLock { state in
            switch state {
            case .waiting(let continuation?):
                continuation.resume(with: result)
                state = .delivered
            case .waiting(nil):
                state = .finished(result)
            case .finished, .delivered:
                break
            }
        }
    }

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { state in
            switch state {
            case .waiting:
                state = .waiting(continuation)
            case .finished(let result):
                continuation.resume(with: result)
                state = .delivered
            case .delivered:
                continuation.resume(throwing: CancellationError())
            }
        }
    }
}
