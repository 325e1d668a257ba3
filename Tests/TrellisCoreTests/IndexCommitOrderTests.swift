import Testing
import TrellisCore

/// The commit-order rules for the knowledge indexes, on a model index: a change adds or removes chunk ids, and
/// the index counts each id, so a chunk added twice shows as a count of 2.
@Suite("IndexCommitOrder")
struct IndexCommitOrderTests {
    enum Op: Equatable, Sendable {
        case add([Int64])
        case remove([Int64])
    }

    typealias Order = IndexCommitOrder<Op>

    /// Chunk id → how many times it is in the index.
    struct ModelIndex: Equatable {
        var counts: [Int64: Int] = [:]

        mutating func apply(_ ops: [Op]) {
            for op in ops {
                switch op {
                case .add(let ids): for id in ids { counts[id, default: 0] += 1 }
                case .remove(let ids): for id in ids { counts[id] = nil }
                }
            }
        }

        var duplicates: Bool { counts.values.contains { $0 > 1 } }
    }

    @Test("a write that commits the next generation applies at once and moves the generation")
    func inOrder() {
        var order = Order(generation: 5)
        order.beginWrite()
        let applied = order.committed(generation: 6, change: .add([1]))
        #expect(applied.changes == [.add([1])] && !applied.needsLoad)
        #expect(order.generation == 6 && order.localWrites == 0 && order.pendingGenerations.isEmpty)
    }

    @Test("writes arriving out of commit order wait for their predecessors, then apply in commit order")
    func outOfOrder() {
        var order = Order(generation: 5)
        for _ in 0..<3 { order.beginWrite() }
        let third = order.committed(generation: 8, change: .add([8]))
        #expect(third.changes.isEmpty && !third.needsLoad, "two writes still in flight may bring 6 and 7")
        let second = order.committed(generation: 7, change: .add([7]))
        #expect(second.changes.isEmpty && !second.needsLoad)
        #expect(order.pendingGenerations == [7, 8] && order.generation == 5)
        let first = order.committed(generation: 6, change: .add([6]))
        #expect(first.changes == [.add([6]), .add([7]), .add([8])])
        #expect(order.generation == 8 && order.pendingGenerations.isEmpty && !first.needsLoad)
    }

    @Test("a delete that arrives before the upload it follows is held until the upload is applied")
    func deleteAfterAdd() {
        var order = Order(generation: 0)
        var index = ModelIndex()
        order.beginWrite()
        order.beginWrite()
        index.apply(order.committed(generation: 2, change: .remove([10, 11])).changes)
        #expect(index.counts.isEmpty)
        index.apply(order.committed(generation: 1, change: .add([10, 11])).changes)
        #expect(index.counts.isEmpty, "added then removed, in commit order: nothing left")
        #expect(order.generation == 2)
    }

    @Test("a gap no local write will fill (another process wrote) asks for a full load once no local write is in flight")
    func gapNeedsLoad() {
        var order = Order(generation: 5)
        order.beginWrite()
        order.beginWrite()
        // Generation 6 was another process's; this process committed 7 and 8.
        let first = order.committed(generation: 8, change: .add([8]))
        #expect(first.changes.isEmpty && !first.needsLoad, "a local write is in flight: it may be the missing one")
        let last = order.committed(generation: 7, change: .add([7]))
        #expect(last.changes.isEmpty && last.needsLoad, "nothing local will bring 6")
        // The load reads the store at 8: it includes 7 and 8, which are not applied again.
        #expect(order.loaded(generation: 8) == [])
        #expect(order.generation == 8 && order.pendingGenerations.isEmpty)
    }

    @Test("too many changes waiting for a missing predecessor ask for a load even while writes are in flight")
    func maxPending() {
        var order = Order(generation: 0, maxPending: 2)
        for _ in 0..<10 { order.beginWrite() }
        #expect(!order.committed(generation: 3, change: .add([3])).needsLoad)
        #expect(!order.committed(generation: 4, change: .add([4])).needsLoad)
        #expect(order.committed(generation: 5, change: .add([5])).needsLoad, "3 waiting, more than 2")
        #expect(order.maxPending == 2)
    }

    @Test("an abandoned write ends its count; if it leaves a gap with no write in flight, a load is asked for")
    func abandoned() {
        var order = Order(generation: 3)
        order.beginWrite()
        order.beginWrite()
        #expect(order.abandoned() == Order.Applied(changes: [], needsLoad: false))
        #expect(order.localWrites == 1)
        order.beginWrite()
        #expect(order.committed(generation: 5, change: .add([5])).changes.isEmpty)
        #expect(order.abandoned().needsLoad, "4 will not come from here")
        #expect(order.localWrites == 0)
        #expect(order.abandoned() == Order.Applied(changes: [], needsLoad: true), "an extra end never counts below zero")
        #expect(order.localWrites == 0)
    }

    @Test("a write the installed indexes already include (a load read it) is dropped, never applied twice")
    func alreadyLoaded() {
        var order = Order(generation: 2)
        order.beginWrite()
        #expect(order.loaded(generation: 4) == [])
        let late = order.committed(generation: 3, change: .add([3]))
        #expect(late.changes.isEmpty && !late.needsLoad)
        #expect(order.generation == 4 && order.pendingGenerations.isEmpty)
    }

    @Test("a load never goes backwards; one at the installed generation installs again")
    func loadsMoveForward() {
        var order = Order(generation: -1)
        #expect(order.loaded(generation: 10) == [])
        #expect(order.loaded(generation: 9) == nil, "an older snapshot: keep what is installed")
        #expect(order.generation == 10)
        #expect(order.loaded(generation: 10) == [])
    }

    @Test("a load keeps the waiting changes newer than what it read and applies them on top; those it read are dropped")
    func loadKeepsNewerChanges() {
        var order = Order(generation: 10)
        for _ in 0..<3 { order.beginWrite() }
        _ = order.committed(generation: 12, change: .add([12]))
        _ = order.committed(generation: 13, change: .add([13]))
        #expect(order.loaded(generation: 11) == [.add([12]), .add([13])])
        #expect(order.generation == 13)

        var other = Order(generation: 10)
        for _ in 0..<3 { other.beginWrite() }
        _ = other.committed(generation: 12, change: .add([12]))
        _ = other.committed(generation: 14, change: .add([14]))
        #expect(other.loaded(generation: 12) == [], "12 is in the load; 14 still waits for 13")
        #expect(other.pendingGenerations == [14] && other.generation == 12)
        #expect(other.localWrites == 1, "a load does not end writes in flight")
    }

    @Test("the refresh loads when the store moved and no local write is in flight")
    func refresh() {
        var order = Order(generation: 4)
        #expect(!order.needsRefresh(storedGeneration: 4))
        #expect(order.needsRefresh(storedGeneration: 5))
        #expect(order.needsRefresh(storedGeneration: 3), "any difference, as before (a store restored from a backup)")
        order.beginWrite()
        #expect(!order.needsRefresh(storedGeneration: 5), "its own commit runs ahead for a moment")
    }

    @Test("concurrent uploads and deletes arriving in any order, with another process's writes and loads between, end with every chunk once", arguments: 1...40)
    func simulation(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        // The store's history: generation g (1-based) is ops[g - 1]; local writes are this process's.
        var ops: [Op] = []
        var local: [Bool] = []
        var added: [[Int64]] = []
        for g in 1...30 {
            if !added.isEmpty, Int.random(in: 0..<4, using: &random) == 0 {
                ops.append(.remove(added.remove(at: Int.random(in: 0..<added.count, using: &random))))
            } else {
                let ids = (0..<3).map { Int64(g * 10 + $0) }
                ops.append(.add(ids))
                added.append(ids)
            }
            local.append(Int.random(in: 0..<5, using: &random) != 0)
        }
        func store(at generation: Int64) -> ModelIndex {
            var index = ModelIndex()
            index.apply(Array(ops.prefix(Int(generation))))
            return index
        }

        var order = Order(generation: 0)
        var index = ModelIndex()
        let total = Int64(ops.count)
        func load(_ generation: Int64) {
            guard let newer = order.loaded(generation: generation) else { return }
            index = store(at: generation)
            index.apply(newer)
        }
        // Every local write is in flight; they arrive in a random order, with loads of random age between.
        var arrivals = (1...total).filter { local[Int($0) - 1] }
        for _ in arrivals { order.beginWrite() }
        var highest = order.generation
        arrivals.shuffle(using: &random)
        for generation in arrivals {
            let applied = order.committed(generation: generation, change: ops[Int(generation) - 1])
            index.apply(applied.changes)
            if applied.needsLoad { load(total) }
            if Int.random(in: 0..<6, using: &random) == 0 { load(Int64.random(in: 0...total, using: &random)) }
            #expect(!index.duplicates, "seed \(seed): a chunk added twice")
            #expect(index == store(at: order.generation), "seed \(seed): the indexes are exactly the store at their generation")
            #expect(order.generation >= highest, "seed \(seed): the indexes went back to an older generation")
            highest = order.generation
        }
        if order.needsRefresh(storedGeneration: total) { load(total) }
        #expect(order.localWrites == 0)
        #expect(order.generation == total)
        #expect(index == store(at: total), "seed \(seed): the indexes match the store")
    }
}
