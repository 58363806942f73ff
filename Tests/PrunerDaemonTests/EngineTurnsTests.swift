// The engine worker's pipeline jobs take turns at the engine in job order, and
// the loop thread's hold between two steps keeps the next step from starting.
import Foundation
import Synchronization
import Testing
@testable import PrunerDaemon

@Suite("engine turns")
struct EngineTurnsTests {
    @Test("engine steps run in job order whatever order their threads arrive in")
    func jobOrder() {
        let turns = EngineTurns(aheadKernel: nil)
        let order = Mutex<[Int]>([])
        let jobs = 12
        // A thread of its own per job (a bounded pool would deadlock: each job blocks its thread
        // until its turn), started latest job first.
        let threads = (0..<jobs).reversed().map { sequence in
            Thread {
                turns.begin(sequence)
                order.withLock { $0.append(sequence) }
                turns.end(aheadKernel: nil)
            }
        }
        for thread in threads { thread.start() }
        #expect(waitUntil("every job's step", timeout: 10) { order.withLock { $0.count } == jobs })
        #expect(order.withLock { $0 } == Array(0..<jobs))
    }

    @Test("a hold between steps: granted at once when no step runs, refused while one runs, and no step starts until released")
    func holdBetweenSteps() {
        let turns = EngineTurns(aheadKernel: nil)
        // A step runs: the hold is refused but stays asked for.
        turns.begin(0)
        #expect(!turns.hold())
        turns.end(aheadKernel: nil)
        // Between steps: granted; the next job's step waits for the release.
        #expect(turns.hold())
        let started = Mutex(false)
        let thread = Thread {
            turns.begin(1)
            started.withLock { $0 = true }
            turns.end(aheadKernel: nil)
        }
        thread.start()
        // Deliberate: the step must *not* start while held; 100 ms is ample for it to try.
        Thread.sleep(forTimeInterval: 0.1)
        #expect(!started.withLock { $0 })
        turns.release(aheadKernel: nil)
        #expect(waitUntil("the held step to start after the release", timeout: 5) { started.withLock { $0 } })
    }
}
