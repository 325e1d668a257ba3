import NIOCore
import NIOPosix
import Testing

@testable import TrellisServer

/// A connection's task on its event loop, and the work that asks for the shared pool again.
@Suite struct EventLoopExecutorTests {
    @Test("a task that prefers an event loop runs on it, before and after it awaits")
    func aTaskPreferringTheLoopRunsOnIt() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let executor = EventLoopTaskExecutor(loop: loop)
        let (before, after) = await withTaskExecutorPreference(executor) { () async -> (Bool, Bool) in
            let before = loop.inEventLoop
            // An await that resumes from another thread comes back to the loop.
            await Task.yield()
            _ = try? await MultiThreadedEventLoopGroup.singleton.next().submit { 1 }.get()
            return (before, loop.inEventLoop)
        }
        #expect(before && after)
        #expect(!loop.inEventLoop, "outside the preference the task runs on the shared pool")
    }

    @Test("OffLoop runs its work on the shared pool, and the task is back on its loop afterwards")
    func offLoopLeavesTheLoop() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let (inside, after) = try await withTaskExecutorPreference(EventLoopTaskExecutor(loop: loop)) { () async throws -> (Bool, Bool) in
            let inside = try await OffLoop.run { loop.inEventLoop }
            return (inside, loop.inEventLoop)
        }
        #expect(!inside, "the work ran off the loop")
        #expect(after, "and the task came back to the loop")
    }
}
