// Who may touch the engine, across threads: the pipeline's jobs take turns for
// their engine steps in job order (each blocks its pool thread until its turn),
// and the loop thread may hold the engine between two steps (a status request, a
// reload, a cluster adoption) without the pipeline draining first. Also the
// kernel each job assigns its batch ahead with, as of the last engine step.
#if canImport(Glibc)
import Glibc
#endif
import PrunerCore

/// Turns at the engine, shared by the pipeline's pool threads and the loop thread.
final class EngineTurns: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let turnTaken = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The job sequence number whose engine step comes next.
    private var turn = 0
    /// An engine step runs now.
    private var isRunning = false
    /// The loop thread holds, or asked to hold, the engine: no step starts.
    private var isHeld = false
    private var kernel: NearestCentroid?

    init(aheadKernel: NearestCentroid?) {
        kernel = aheadKernel
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(turnTaken, nil)
    }

    deinit {
        pthread_cond_destroy(turnTaken)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        turnTaken.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// The engine's kernel for assigning ahead, as the last engine step (or hold) left it.
    var aheadKernel: NearestCentroid? { locked { kernel } }

    /// A pool thread: waits until job `sequence` may run its engine step (every job
    /// before it has run its step and the loop does not hold the engine).
    func begin(_ sequence: Int) {
        pthread_mutex_lock(mutex)
        while turn != sequence || isHeld { pthread_cond_wait(turnTaken, mutex) }
        isRunning = true
        pthread_mutex_unlock(mutex)
    }

    /// A pool thread: the engine step of the current turn is done; the next job's may start.
    func end(aheadKernel: NearestCentroid?) {
        pthread_mutex_lock(mutex)
        isRunning = false
        turn += 1
        kernel = aheadKernel
        pthread_cond_broadcast(turnTaken)
        pthread_mutex_unlock(mutex)
    }

    /// The loop thread: asks to hold the engine; true when no step runs, so the loop
    /// holds it now. Either way no further step starts until `release`.
    func hold() -> Bool {
        locked {
            isHeld = true
            return !isRunning
        }
    }

    /// The loop thread: lets engine steps go on; the kernel is the engine's own now
    /// (the hold may have changed it).
    func release(aheadKernel: NearestCentroid?) {
        pthread_mutex_lock(mutex)
        isHeld = false
        kernel = aheadKernel
        pthread_cond_broadcast(turnTaken)
        pthread_mutex_unlock(mutex)
    }
}
