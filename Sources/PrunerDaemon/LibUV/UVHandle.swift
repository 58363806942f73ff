// The one audited place where libuv handle and request memory is allocated,
// tied to a Swift owner through `data`, and freed. Every other file talks to
// libuv through these helpers, so pointer lifetimes are reasoned about here only.
//
// Rules:
// - A handle's memory lives from `UVHandle.init` until libuv's close callback;
//   `close()` is idempotent and clears `data` first, so no callback after
//   `close()` can reach a Swift owner that may be gone.
// - The owner is referenced unretained: owners keep their `UVHandle`s and
//   close them before they go away.
// - Requests (`uv_fs_t`, `uv_write_t`, `uv_work_t`) are allocated per
//   operation by `UVRequest` and freed in their completion callback.
import CLibUV

/// Owns the memory of one libuv handle of C type `Handle` (`uv_tcp_t`, `uv_timer_t`, …).
final class UVHandle<Handle> {
    /// The handle, typed as libuv declares it.
    let pointer: UnsafeMutablePointer<Handle>
    private(set) var isClosed = false

    /// Allocates zeroed memory and runs libuv's `uv_*_init` on it.
    /// - Throws: `UVError` when the initialiser fails; the memory is freed.
    init(_ initialise: (UnsafeMutablePointer<Handle>) -> Int32) throws(UVError) {
        pointer = .allocate(capacity: 1)
        UnsafeMutableRawPointer(pointer).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<Handle>.size)
        let status = initialise(pointer)
        if status != 0 {
            pointer.deallocate()
            isClosed = true
            throw UVError(code: status, operation: "init \(Handle.self)")
        }
    }

    /// The handle seen as the base `uv_handle_t`.
    var handle: UnsafeMutablePointer<uv_handle_t> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_handle_t.self)
    }

    /// The handle seen as a `uv_stream_t` (valid for pipes, TCP and TTY handles only).
    var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_stream_t.self)
    }

    /// Routes this handle's callbacks to `owner` (see `UVOwner.of`).
    func attach(to owner: AnyObject) {
        handle.pointee.data = Unmanaged.passUnretained(owner).toOpaque()
    }

    /// Closes the handle once; its memory is freed in libuv's close callback.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        handle.pointee.data = nil
        uv_close(handle) { closed in
            UnsafeMutableRawPointer(closed)?.deallocate()
        }
    }
}

/// Recovers the Swift owner of a handle or request inside a C callback.
enum UVOwner {
    /// The owner attached to `handle`, or `nil` once the handle is closing.
    static func of<Owner: AnyObject>(_ handle: UnsafeMutablePointer<uv_handle_t>?, as _: Owner.Type) -> Owner? {
        guard let data = handle?.pointee.data else { return nil }
        return Unmanaged<Owner>.fromOpaque(data).takeUnretainedValue()
    }

    /// The owner attached to a stream handle.
    static func of<Owner: AnyObject>(_ stream: UnsafeMutablePointer<uv_stream_t>?, as type: Owner.Type) -> Owner? {
        of(UnsafeMutableRawPointer(stream)?.assumingMemoryBound(to: uv_handle_t.self), as: type)
    }

    /// The owner of a timer, signal or async handle.
    static func of<Owner: AnyObject, Handle>(handle: UnsafeMutablePointer<Handle>?, as type: Owner.Type) -> Owner? {
        of(UnsafeMutableRawPointer(handle)?.assumingMemoryBound(to: uv_handle_t.self), as: type)
    }
}

/// A libuv request allocated for one operation. The request carries a retained
/// box holding the completion, released exactly once by `complete`.
enum UVRequest<Request> {
    /// Allocates a zeroed request whose `data` holds `context` (retained).
    static func make(context: AnyObject) -> UnsafeMutablePointer<Request> {
        let request = UnsafeMutablePointer<Request>.allocate(capacity: 1)
        UnsafeMutableRawPointer(request).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<Request>.size)
        UnsafeMutableRawPointer(request).assumingMemoryBound(to: uv_req_t.self).pointee.data =
            Unmanaged.passRetained(context).toOpaque()
        return request
    }

    /// Takes the context back (balancing `make`) and frees the request.
    static func complete<Context: AnyObject>(_ request: UnsafeMutablePointer<Request>?, as _: Context.Type) -> Context {
        let base = UnsafeMutableRawPointer(request!).assumingMemoryBound(to: uv_req_t.self)
        let context = Unmanaged<Context>.fromOpaque(base.pointee.data!).takeRetainedValue()
        request!.deallocate()
        return context
    }

    /// Frees a request whose operation failed to start (its callback will never run).
    static func abandon(_ request: UnsafeMutablePointer<Request>) {
        let base = UnsafeMutableRawPointer(request).assumingMemoryBound(to: uv_req_t.self)
        Unmanaged<AnyObject>.fromOpaque(base.pointee.data!).release()
        request.deallocate()
    }
}

/// A failed libuv call: the operation and libuv's own error name and message.
public struct UVError: Error, CustomStringConvertible, Sendable {
    /// libuv's negative error code (`UV_EADDRINUSE`, …).
    public var code: Int32
    public var operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    public var description: String {
        "\(operation): \(String(cString: uv_err_name(code))) (\(String(cString: uv_strerror(code))))"
    }

    /// The reason alone, for messages that name the path themselves: "illegal operation on a directory (EISDIR)".
    public var reason: String {
        "\(String(cString: uv_strerror(code))) (\(String(cString: uv_err_name(code))))"
    }

    /// Whether the error is libuv's end-of-file marker.
    var isEndOfFile: Bool { code == UV_EOF.rawValue }
}

/// Converts a libuv status into a thrown `UVError`.
@inline(__always)
func uvCheck(_ status: Int32, _ operation: @autoclosure () -> String) throws(UVError) {
    if status < 0 { throw UVError(code: status, operation: operation()) }
}

/// Writes `bytes` to a stream. libuv keeps pointing at the bytes until the write
/// completes, so they are copied into memory owned by the request; `done` runs on
/// the loop thread with libuv's status (0 or a negative error).
func uvWrite(_ bytes: [UInt8], to stream: UnsafeMutablePointer<uv_stream_t>, done: @escaping (Int32) -> Void) {
    let write = PendingWrite(bytes: bytes, done: done)
    let request = UVRequest<uv_write_t>.make(context: write)
    var buffer = uv_buf_init(write.storage.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32(write.storage.count))
    let status = uv_write(request, stream, &buffer, 1) { request, status in
        UVRequest<uv_write_t>.complete(request, as: PendingWrite.self).done(status)
    }
    if status != 0 {
        UVRequest<uv_write_t>.abandon(request)
        done(status)
    }
}

/// The bytes of one stream write, alive until libuv's write callback.
private final class PendingWrite {
    let storage: UnsafeMutableRawBufferPointer
    let done: (Int32) -> Void

    init(bytes: [UInt8], done: @escaping (Int32) -> Void) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
        self.storage = storage
        self.done = done
    }

    deinit { storage.deallocate() }
}
