import Foundation
import Logging
import Synchronization
import TrellisStore

/// The evaluation runs this process executes, each in a task of its own, and their heartbeats: a run whose
/// process stops (a crash, a restart, a replica taken away) is claimed by the next ``EvalService`` round of any
/// process on the store, and resumed with the results kept so far.
final class EvalTasks: Sendable {
    private let tasks = Mutex<[String: Task<Void, Never>]>([:])
    /// This process, as the owner of the runs it executes.
    let owner = "proc_" + UUID().uuidString.lowercased()

    /// A run is another process's while its heartbeat is younger than this.
    static let staleAfter: TimeInterval = 60
    /// How often a running run's heartbeat is written.
    static let heartbeat: Duration = .seconds(15)

    /// Starts executing `run` unless this process already does.
    func start(_ run: EvalRunRecord, gateway: Gateway, logger: Logger) {
        tasks.withLock { tasks in
            guard tasks[run.id] == nil else { return }
            tasks[run.id] = Task { [self] in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await EvalRunner(gateway: gateway, run: run, logger: logger).execute() }
                    group.addTask { await Self.beat(run.id, owner: self.owner, store: gateway.store) }
                    // Whichever ends first ends the other: the runner's end stops the heartbeat, a run cancelled
                    // elsewhere stops the runner.
                    await group.next()
                    group.cancelAll()
                }
                self.tasks.withLock { _ = $0.removeValue(forKey: run.id) }
            }
        }
    }

    /// Stops executing a run here (its status is the caller's to set).
    func cancel(_ id: String) {
        tasks.withLock { $0[id] }?.cancel()
    }

    func isRunning(_ id: String) -> Bool { tasks.withLock { $0[id] != nil } }

    /// Cancels every run (shutdown) and waits for them to stop, at most `grace`: they stay `running` in the store,
    /// for the next start (or another replica) to resume.
    func cancelAll(grace: Duration = .seconds(5)) async {
        let running = tasks.withLock { Array($0.values) }
        for task in running { task.cancel() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for task in running { await task.value }
            }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Writes the run's heartbeat until cancelled; returns (which stops the run here) when the run is no longer
    /// `running`, as after a cancel through another process.
    private static func beat(_ id: String, owner: String, store: any TrellisStoreEngine) async {
        while !Task.isCancelled {
            if (try? await store.touchEvalRun(id: id, owner: owner, now: Date())) == false { return }
            do { try await Task.sleep(for: heartbeat) } catch { return }
        }
    }
}

/// Claims and resumes evaluation runs left `running` by a process that stopped: every 30 seconds (the first round at
/// start), the runs whose heartbeat is a minute old; cancels this process's runs at shutdown.
struct EvalService: PeriodicService {
    let gateway: Gateway
    let logger: Logger
    var interval: Duration { .seconds(30) }
    var waitsBeforeFirstRound: Bool { false }

    func run() async throws {
        await runRounds()
        await gateway.evaluations.cancelAll()
    }

    func round() async {
        guard gateway.readiness.isReady else { return }
        // A run whose process stopped (a restart, a crash, a replica taken away) is claimed once its heartbeat is a
        // minute old, whichever engine: two processes on one SQLite file do not take each other's runs either.
        await claim(staleAfter: EvalTasks.staleAfter)
    }

    /// Claims the runs whose heartbeat is older than `staleAfter` seconds and starts those this process does not run.
    func claim(staleAfter: TimeInterval) async {
        let evaluations = gateway.evaluations
        do {
            for run in try await gateway.store.claimEvalRuns(owner: evaluations.owner, staleAfter: staleAfter, now: Date())
            where !evaluations.isRunning(run.id) {
                logger.info("evaluation run resumed", metadata: ["run": "\(run.id)"])
                gateway.evaluations.start(run, gateway: gateway, logger: logger)
            }
        } catch {
            logger.error("evaluation runs not claimed", metadata: ["error_type": "\(type(of: error))"])
        }
    }
}
