// Tiny request/response servers on the daemon's loop: the control socket
// (`prunerd status`) and the Prometheus endpoint (`GET /metrics`). Each
// connection sends one request, gets one response, and is closed. Requests are
// capped in size so a misbehaving client cannot make the daemon buffer much.
import CLibUV

/// One request/response connection.
final class RequestConnection {
    private let handle: StreamHandle
    private var request: [UInt8] = []
    private let terminator: [UInt8]
    /// Gets the request and a function to call, once, with the response
    /// (at once, or later: the status document waits for the engine to be idle).
    private let respond: (_ request: [UInt8], _ reply: @escaping ([UInt8]) -> Void) -> Void
    private var answered = false
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    private var selfReference: RequestConnection?
    private static let maximumRequest = 16 * 1024

    init(handle: StreamHandle, terminator: [UInt8],
         respond: @escaping (_ request: [UInt8], _ reply: @escaping ([UInt8]) -> Void) -> Void) {
        self.handle = handle
        self.terminator = terminator
        self.respond = respond
        selfReference = self   // alive until closed
        handle.attach(to: self)
        uv_read_start(handle.stream, { handle, _, buffer in
            guard let connection = UVOwner.of(handle, as: RequestConnection.self) else {
                buffer!.pointee = uv_buf_init(nil, 0)
                return
            }
            buffer!.pointee = uv_buf_init(connection.readBuffer.baseAddress!.assumingMemoryBound(to: CChar.self),
                                          UInt32(connection.readBuffer.count))
        }, { stream, count, _ in
            UVOwner.of(stream, as: RequestConnection.self)?.didRead(count: count)
        })
    }

    deinit { readBuffer.deallocate() }

    private func didRead(count: Int) {
        if count > 0 {
            request.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]))
            if request.count > Self.maximumRequest { finish() }
            else if containsTerminator() { answer() }
        } else if count < 0 {
            if !request.isEmpty { answer() } else { finish() }
        }
    }

    private func containsTerminator() -> Bool {
        guard request.count >= terminator.count else { return false }
        for start in 0...(request.count - terminator.count) where request[start] == terminator[0] {
            if Array(request[start..<start + terminator.count]) == terminator { return true }
        }
        return false
    }

    private func answer() {
        guard !answered else { return }
        answered = true
        uv_read_stop(handle.stream)
        respond(request) { [self] response in
            uvWrite(response, to: handle.stream) { [self] _ in finish() }
        }
    }

    private func finish() {
        handle.close()
        selfReference = nil
    }
}

/// Sends one request to a unix control socket and returns the whole response
/// (the client side of `prunerd status`), on a private libuv loop.
public enum ControlClient {
    public static func request(_ text: String, socketPath: String) throws(UVError) -> String {
        let loop = try EventLoop()
        let exchange = Exchange(request: Array(text.utf8))
        let pipe = try UVHandle<uv_pipe_t> { uv_pipe_init(loop.loop, $0, 0) }
        pipe.attach(to: exchange)
        exchange.handle = StreamHandle(pipe)
        let connect = UVRequest<uv_connect_t>.make(context: exchange)
        uv_pipe_connect(connect, pipe.pointer, socketPath) { request, status in
            let exchange = UVRequest<uv_connect_t>.complete(request, as: Exchange.self)
            exchange.connected(status: status)
        }
        loop.run()
        if let error = exchange.error { throw error }
        return String(decoding: exchange.response, as: UTF8.self)
    }

    private final class Exchange {
        let request: [UInt8]
        var handle: StreamHandle?
        var response: [UInt8] = []
        var error: UVError?
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)

        init(request: [UInt8]) { self.request = request }
        deinit { buffer.deallocate() }

        func connected(status: Int32) {
            guard status == 0, let handle else {
                error = UVError(code: status, operation: "connect to the control socket")
                handle?.close()
                return
            }
            uvWrite(request, to: handle.stream) { _ in }
            uv_read_start(handle.stream, { handle, _, buffer in
                let exchange = UVOwner.of(handle, as: Exchange.self)!
                buffer!.pointee = uv_buf_init(exchange.buffer.baseAddress!.assumingMemoryBound(to: CChar.self),
                                              UInt32(exchange.buffer.count))
            }, { stream, count, _ in
                guard let exchange = UVOwner.of(stream, as: Exchange.self) else { return }
                if count > 0 {
                    exchange.response.append(contentsOf: UnsafeRawBufferPointer(rebasing: exchange.buffer[0..<count]))
                } else if count < 0 {
                    exchange.handle?.close()
                }
            })
        }
    }
}
