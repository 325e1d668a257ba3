/// The order in which a process applies changes to its in-memory search indexes: its own document writes in
/// the store's commit order, and full loads from the store, so that concurrent uploads, deletions and reloads
/// neither add a chunk twice nor lose one. It holds no index itself: it is fed events and answers which
/// changes to apply, in which order, and when a full load is needed. No I/O, no clock, no lock (keep it under
/// the same lock as the indexes it orders).
///
/// The store keeps a knowledge generation, moved by one for every committed document write. The indexes
/// reflect one generation (`generation`; -1 before the first load). The rules:
/// - A local write is counted from before it commits (``beginWrite()``) until it is applied or abandoned.
/// - A write that committed generation g is applied on top of g - 1: at once when the indexes are at g - 1,
///   else it waits (`pending`) until its predecessors are applied; then everything that follows without a gap
///   is applied, in commit order. Concurrent uploads finish in any order, so a delete can arrive before the
///   upload it follows: it is held until that upload is applied.
/// - A write at or below the installed generation is already in the indexes (a load read it): it is dropped.
/// - A gap no local write will fill (another process wrote the missing generation) asks for a full load, once
///   no local write is in flight (they may fill it), or at once when more than `maxPending` changes wait.
/// - A full load that read generation g installs only if g is not older than what is installed (a load never
///   goes backwards); it drops the waiting changes it already includes and applies the rest on top of it.
/// - The periodic refresh loads when the stored generation differs from the installed one and no local write
///   is in flight (its own commits run ahead of the indexes for a moment, and apply themselves).
public struct IndexCommitOrder<Change> {
    /// The generation the indexes reflect.
    public private(set) var generation: Int64
    /// This process's writes begun and not yet applied or abandoned.
    public private(set) var localWrites = 0
    /// Committed changes waiting for a predecessor, by the generation they committed.
    private(set) var pending: [Int64: Change] = [:]
    /// Changes that may wait for a missing predecessor before a full load is asked for anyway.
    public let maxPending: Int

    public init(generation: Int64 = -1, maxPending: Int = 64) {
        self.generation = generation
        self.maxPending = max(0, maxPending)
    }

    /// What an ended write asks for: changes to apply now, in this order, and whether a full load is needed
    /// after them (a gap only a load can close).
    public struct Applied {
        public var changes: [Change]
        public var needsLoad: Bool

        public init(changes: [Change], needsLoad: Bool) {
            self.changes = changes
            self.needsLoad = needsLoad
        }
    }

    /// The generations of the changes waiting for a predecessor, in order.
    public var pendingGenerations: [Int64] { pending.keys.sorted() }

    // MARK: Events

    /// A write of this process begins (before it commits).
    public mutating func beginWrite() {
        localWrites += 1
    }

    /// A write of this process committed `generation` with `change`.
    public mutating func committed(generation committed: Int64, change: Change) -> Applied {
        localWrites = max(0, localWrites - 1)
        var ready: [Change] = []
        if committed > generation {
            pending[committed] = change
            ready = drain()
        }
        return Applied(changes: ready, needsLoad: gapNeedsLoad)
    }

    /// A write of this process ended without committing a change (it failed, or found its content already
    /// stored). Its end may leave a gap that only a load can close.
    public mutating func abandoned() -> Applied {
        localWrites = max(0, localWrites - 1)
        return Applied(changes: [], needsLoad: gapNeedsLoad)
    }

    /// A full load read the store at `generation`. Nil when it is older than what is installed (keep what is
    /// installed); else it is installed, and the waiting changes it does not include are returned, to apply on
    /// top of it in this order.
    public mutating func loaded(generation loaded: Int64) -> [Change]? {
        guard loaded >= generation else { return nil }
        pending = pending.filter { $0.key > loaded }
        generation = loaded
        return drain()
    }

    /// Whether the periodic refresh should load, the store being at `stored`.
    public func needsRefresh(storedGeneration stored: Int64) -> Bool {
        localWrites == 0 && stored != generation
    }

    // MARK: Steps

    /// Still waiting for a predecessor that no local write will bring (another process wrote it).
    private var gapNeedsLoad: Bool {
        !pending.isEmpty && (localWrites == 0 || pending.count > maxPending)
    }

    /// The waiting changes that now follow without a gap, removed in commit order.
    private mutating func drain() -> [Change] {
        var ready: [Change] = []
        while let next = pending.removeValue(forKey: generation + 1) {
            ready.append(next)
            generation += 1
        }
        return ready
    }
}

extension IndexCommitOrder: Sendable where Change: Sendable {}
extension IndexCommitOrder.Applied: Sendable where Change: Sendable {}
extension IndexCommitOrder.Applied: Equatable where Change: Equatable {}
