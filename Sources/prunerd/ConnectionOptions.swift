// `prunerd serve`'s limits on what clients may make the daemon hold, and who
// may connect: each an option (and a config key) with a documented default, so
// an operator can size them and a hostile client cannot exceed them.
import ArgumentParser
import PrunerConfig
import PrunerDaemon

/// Connection limits and socket permissions of `prunerd serve`.
struct ConnectionOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("max-connections"),
            help: "Connections served at once (default 1024); one more is accepted and closed at once, with a log line.")
    var maxConnections: Int?

    @Option(name: .customLong("connection-buffer"),
            help: "Read buffer per connection, in bytes (default 65536); with --max-record-size it bounds a connection's memory.")
    var connectionBuffer: Int?

    @Option(name: .customLong("max-reply-backlog"),
            help: "Reply bytes queued for one --reply client before prunerd stops reading its records until it reads (default 4194304).")
    var maxReplyBacklog: Int?

    @Option(name: .customLong("socket-group"),
            help: "Group (name or number) of the unix sockets prunerd creates; they get mode 0660 (default: the daemon's group).")
    var socketGroup: String?

    @Option(name: .customLong("max-hold"),
            help: "Seconds a record may wait undecided (look-ahead, warm-up) while input is quiet; then everything held is decided against the quotas of that moment (default 5; 0: wait for more input or the stop).")
    var maxHold: Double?

    /// Copies the settings (command line, else configuration file, else default) into `configuration`.
    func apply(over file: ConfigFile?, to configuration: inout DaemonConfiguration) throws {
        let maxConnections = try maxConnections ?? file?.int("max-connections") ?? configuration.maxConnections
        let buffer = try connectionBuffer ?? file?.int("connection-buffer") ?? configuration.connectionBufferSize
        let replies = try maxReplyBacklog ?? file?.int("max-reply-backlog") ?? configuration.maxReplyBacklog
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard buffer >= 4096 else { throw ValidationError("--connection-buffer must be at least 4096 bytes") }
        guard replies >= 4096 else { throw ValidationError("--max-reply-backlog must be at least 4096 bytes") }
        configuration.maxConnections = maxConnections
        configuration.connectionBufferSize = buffer
        configuration.maxReplyBacklog = replies
        configuration.socketGroup = try socketGroup ?? file?.string("socket-group")
        let hold = try maxHold ?? file?.double("max-hold") ?? 5
        guard hold >= 0, hold.isFinite else { throw ValidationError("--max-hold must be 0 or more seconds") }
        configuration.maxHold = hold > 0 ? hold : nil
    }
}
