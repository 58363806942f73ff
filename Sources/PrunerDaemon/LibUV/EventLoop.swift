// The libuv loop and the small handle types the daemon uses on it: timers,
// signal watchers and work offloaded to libuv's thread pool.
import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// One libuv event loop. All I/O of the daemon runs on the thread that calls `run()`.
public final class EventLoop {
    let loop: UnsafeMutablePointer<uv_loop_t>

    public init() throws(UVError) {
        loop = .allocate(capacity: 1)
        let status = uv_loop_init(loop)
        if status != 0 {
            loop.deallocate()
            throw UVError(code: status, operation: "uv_loop_init")
        }
    }

    deinit {
        // Let close callbacks of handles closed last run, then release the loop.
        uv_run(loop, UV_RUN_NOWAIT)
        uv_loop_close(loop)
        loop.deallocate()
    }

    /// Runs until no active handle or request is left, or `stop()` is called.
    public func run() {
        uv_run(loop, UV_RUN_DEFAULT)
    }

    /// Makes `run()` return after the current iteration.
    public func stop() {
        uv_stop(loop)
    }

    /// Milliseconds of the loop's monotonic clock (cached per iteration).
    var now: UInt64 { uv_now(loop) }

    /// Runs `work` on libuv's thread pool, then `done` back on the loop thread.
    /// The caller guarantees that `work` touches nothing the loop thread uses meanwhile.
    func queueWork(_ work: @escaping () -> Void, then done: @escaping () -> Void) {
        let item = WorkItem(work: work, done: done)
        let request = UVRequest<uv_work_t>.make(context: item)
        let status = uv_queue_work(loop, request, { request in
            let base = UnsafeMutableRawPointer(request!).assumingMemoryBound(to: uv_req_t.self)
            Unmanaged<WorkItem>.fromOpaque(base.pointee.data!).takeUnretainedValue().work()
        }, { request, _ in
            UVRequest<uv_work_t>.complete(request, as: WorkItem.self).done()
        })
        if status != 0 {
            // Only fails for invalid arguments; run inline so no work is lost.
            UVRequest<uv_work_t>.abandon(request)
            work()
            done()
        }
    }

    private final class WorkItem: @unchecked Sendable {
        let work: () -> Void
        let done: () -> Void
        init(work: @escaping () -> Void, done: @escaping () -> Void) {
            self.work = work
            self.done = done
        }
    }
}

/// A repeating or one-shot timer on the loop.
final class LoopTimer {
    private let handle: UVHandle<uv_timer_t>
    private let action: () -> Void

    init(on loop: EventLoop, action: @escaping () -> Void) throws(UVError) {
        handle = try UVHandle { uv_timer_init(loop.loop, $0) }
        self.action = action
        handle.attach(to: self)
    }

    /// Fires after `delay` ms, then every `interval` ms (0: once).
    func start(after delay: UInt64, every interval: UInt64 = 0) {
        uv_timer_start(handle.pointer, { timer in
            UVOwner.of(handle: timer, as: LoopTimer.self)?.action()
        }, delay, interval)
    }

    func stop() { uv_timer_stop(handle.pointer) }

    /// Does not keep the loop alive by itself (for housekeeping timers).
    func unref() { uv_unref(handle.handle) }

    func close() { handle.close() }
    deinit { handle.close() }
}

/// Watches one signal on the loop thread (SIGTERM, SIGINT, SIGHUP).
final class SignalWatcher {
    private let handle: UVHandle<uv_signal_t>
    private let action: () -> Void

    init(on loop: EventLoop, signal: Int32, action: @escaping () -> Void) throws(UVError) {
        // A signal mask is inherited across exec: a parent that spawned prunerd from a
        // thread with SIGTERM blocked (dispatch worker threads do) would make it unstoppable.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, signal)
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        handle = try UVHandle { uv_signal_init(loop.loop, $0) }
        self.action = action
        handle.attach(to: self)
        try uvCheck(uv_signal_start(handle.pointer, { signal, _ in
            UVOwner.of(handle: signal, as: SignalWatcher.self)?.action()
        }, signal), "uv_signal_start(\(signal))")
        uv_unref(handle.handle)
    }

    func close() { handle.close() }
    deinit { handle.close() }
}
