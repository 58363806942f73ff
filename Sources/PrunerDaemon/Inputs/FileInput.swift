// An input read from a regular file (or stdin redirected from one) with
// libuv's asynchronous fs reads, one read in flight, into one fixed buffer.
// Regular files cannot be polled, so they cannot be libuv streams.
import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// An input read with `uv_fs_read` from an open file descriptor.
final class FileInput: Input, FileReadCompletion {
    private let loop: EventLoop
    private let fd: Int32
    private let ownsDescriptor: Bool
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var isPaused = false
    private var readInFlight = false
    private var isDone = false

    init(name: String, source: UInt32, fd: Int32, ownsDescriptor: Bool, loop: EventLoop, maxRecordSize: Int) {
        self.loop = loop
        self.fd = fd
        self.ownsDescriptor = ownsDescriptor
        self.readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        super.init(name: name, source: source, maxRecordSize: maxRecordSize)
    }

    deinit {
        readBuffer.deallocate()
        if ownsDescriptor && !isDone { FileSystem.closeFile(fd) }
    }

    override func start() { readNext() }

    override func pause() { isPaused = true }

    override func resume() {
        isPaused = false
        readNext()
    }

    override func close() {
        guard !isDone else { return }
        isDone = true
        if ownsDescriptor && !readInFlight { FileSystem.closeFile(fd) }
    }

    private func readNext() {
        guard !isPaused, !readInFlight, !isDone else { return }
        readInFlight = true
        let status = loop.startRead(fd, into: readBuffer, at: -1, for: self)
        if status != 0 {
            readInFlight = false
            end(error: UVError(code: status, operation: "uv_fs_read").description)
        }
    }

    func didRead(result: Int) {
        readInFlight = false
        if isDone {
            if ownsDescriptor { FileSystem.closeFile(fd) }
            return
        }
        if result > 0 {
            delegate?.input(self, didRead: UnsafeRawBufferPointer(rebasing: readBuffer[0..<result]))
            readNext()
        } else if result == 0 {
            end(error: nil)
        } else {
            end(error: UVError(code: Int32(result), operation: "read").description)
        }
    }

    private func end(error: String?) {
        delegate?.inputDidEnd(self, error: error)
    }
}

/// Why an input named on the command line could not be opened. Every case names
/// the input and says what to do instead, and none of them stops other inputs.
enum InputOpenError: Error, CustomStringConvertible {
    /// The system refused (no such file, no read permission, …).
    case system(path: String, UVError)
    /// A directory is not a stream (libuv would abort on polling its descriptor).
    case isDirectory(path: String)
    /// A unix socket is read by connecting to it, not by opening it.
    case isSocket(path: String)
    /// A file type prunerd cannot read records from.
    case unsupportedKind(path: String, kind: String)

    var description: String {
        switch self {
        case .system(let path, let error):
            return "\(path): \(String(cString: uv_strerror(error.code))) (\(String(cString: uv_err_name(error.code))) in \(error.operation))"
        case .isDirectory(let path):
            return "\(path) is a directory, not a file or stream of records"
        case .isSocket(let path):
            return "\(path) is a unix socket: prunerd cannot open one as an input; "
                + "serve it with --listen unix:\(path), or connect a client to a socket prunerd listens on"
        case .unsupportedKind(let path, let kind):
            return "\(path) is a \(kind), not a file or stream of records"
        }
    }
}

/// Opens the inputs named on the command line.
enum InputOpener {
    /// Opens `path` (or stdin for `-`) and hands the input to `opened`.
    ///
    /// Regular files, block devices and character devices other than terminals
    /// (`/dev/null`) become file inputs; FIFOs, pipes, terminals and connected
    /// sockets stream inputs. Directories, unix socket files and anything else
    /// fail with an `InputOpenError` naming the path. A FIFO is opened on libuv's
    /// thread pool, because opening one blocks until a writer appears, and a
    /// non-blocking open would read EOF before it does.
    static func open(path: String, source: UInt32, loop: EventLoop, maxRecordSize: Int,
                     opened: @escaping (Result<Input, InputOpenError>) -> Void) {
        if path == "-" {
            opened(Result { () throws(InputOpenError) in
                try adopt(fd: 0, path: "stdin", name: "stdin", source: source, ownsDescriptor: false, loop: loop,
                          maxRecordSize: maxRecordSize)
            })
            return
        }
        // Before open(2): a socket file fails it with a bare ENXIO, and a directory opens fine.
        if let kind = try? FileKind.of(path: path), kind != .regular, kind != .fifo, kind != .characterDevice,
           kind != .blockDevice {
            opened(.failure(kind.openError(path: path)))
            return
        }
        let name = inputName(forPath: path)
        let context = OpenContext { fd in
            opened(Result { () throws(InputOpenError) in
                if fd < 0 { throw InputOpenError.system(path: path, UVError(code: fd, operation: "open")) }
                return try adopt(fd: fd, path: path, name: name, source: source, ownsDescriptor: true, loop: loop,
                                 maxRecordSize: maxRecordSize)
            })
        }
        let request = UVRequest<uv_fs_t>.make(context: context)
        let status = uv_fs_open(loop.loop, request, path, O_RDONLY | O_CLOEXEC, 0) { request in
            let fd = Int32(request!.pointee.result)
            uv_fs_req_cleanup(request)
            UVRequest<uv_fs_t>.complete(request, as: OpenContext.self).done(fd)
        }
        if status != 0 {
            UVRequest<uv_fs_t>.abandon(request)
            context.done(status)
        }
    }

    /// The `src` name of an input given on the command line.
    static func inputName(forPath path: String) -> String {
        path == "-" ? "stdin" : "file:" + absolute(path)
    }

    private final class OpenContext {
        let done: (Int32) -> Void
        init(done: @escaping (Int32) -> Void) { self.done = done }
    }

    private static func adopt(fd: Int32, path: String, name: String, source: UInt32, ownsDescriptor: Bool,
                              loop: EventLoop, maxRecordSize: Int) throws(InputOpenError) -> Input {
        let kind: FileKind
        do throws(UVError) {
            kind = try FileKind.of(descriptor: fd)
        } catch {
            if ownsDescriptor { FileSystem.closeFile(fd) }
            throw .system(path: path, error)
        }
        // Character devices are files (/dev/null, /dev/zero), except terminals, which are streams.
        let readsLikeFile = kind == .regular || kind == .blockDevice
            || (kind == .characterDevice && uv_guess_handle(fd) != UV_TTY)
        switch kind {
        case _ where readsLikeFile:
            let input = FileInput(name: name, source: source, fd: fd, ownsDescriptor: ownsDescriptor, loop: loop,
                                  maxRecordSize: maxRecordSize)
            if kind == .regular { input.identity = FileIdentity.of(descriptor: fd) }
            return input
        case .fifo, .socket, .characterDevice:
            do throws(UVError) {
                let handle = try StreamHandle.adopting(fd: fd, on: loop)
                return StreamInput(name: name, source: source, handle: handle, maxRecordSize: maxRecordSize)
            } catch {
                if ownsDescriptor { FileSystem.closeFile(fd) }
                throw .system(path: path, error)
            }
        default:
            if ownsDescriptor { FileSystem.closeFile(fd) }
            throw kind.openError(path: path)
        }
    }

    private static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        var size = buffer.count
        guard uv_cwd(&buffer, &size) == 0 else { return path }
        let cwd = String(decoding: buffer[0..<size].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return cwd + "/" + path
    }
}
