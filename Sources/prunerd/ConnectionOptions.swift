// `prunerd serve`'s limits on what clients may make the daemon hold, and who
// may connect: each an option (and a config key) with a documented default, so
// an operator can size them and a hostile client cannot exceed them.
import ArgumentParser
import PrunerConfig

/// Connection limits and socket permissions of `prunerd serve`.
struct ConnectionOptions: ParsableArguments, Sendable {
    @Option(name: .customLong(ServeOptions.maxConnections.name),
            help: "Connections served at once (default 1024); one more is accepted and closed at once, with a log line.")
    var maxConnections: Int?

    @Option(name: .customLong(ServeOptions.connectionBuffer.name),
            help: "Read buffer per connection, in bytes (default 65536); with --max-record-size it bounds a connection's memory.")
    var connectionBuffer: Int?

    @Option(name: .customLong(ServeOptions.maxReplyBacklog.name),
            help: "Reply bytes queued for one --reply client before prunerd stops reading its records until it reads (default 4194304).")
    var maxReplyBacklog: Int?

    @Option(name: .customLong(ServeOptions.socketGroup.name),
            help: "Group (name or number) of the unix sockets prunerd creates; they get mode 0660 (default: the daemon's group).")
    var socketGroup: String?

    @Option(name: .customLong(ServeOptions.maxHold.name),
            help: "Seconds a record may wait undecided (look-ahead, warm-up) while input is quiet; then everything held is decided against the quotas of that moment (default 5; 0: wait for more input or the stop).")
    var maxHold: Double?

    /// What these options say, as command-line values of the option table.
    func record(into values: inout CommandLineValues) {
        values.set(ServeOptions.maxConnections, maxConnections)
        values.set(ServeOptions.connectionBuffer, connectionBuffer)
        values.set(ServeOptions.maxReplyBacklog, maxReplyBacklog)
        values.set(ServeOptions.socketGroup, socketGroup)
        values.set(ServeOptions.maxHold, maxHold)
    }
}
