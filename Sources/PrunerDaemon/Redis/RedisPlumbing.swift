// The daemon's Redis parts in one place, so the daemon hooks them in with a few
// lines: stream inputs (`--listen redis://…`) and the decision stream
// (`--decisions redis://…`). Lives on the loop thread.
import Logging
import PrunerCore

/// Redis stream inputs and the decision stream of one daemon.
final class RedisPlumbing {
    private(set) var inputs: [RedisStreamInput] = []
    private var decisionStream: RedisDecisionStream?
    private var unfinished = 0

    /// Opens what `configuration` asks for; `start` hands each stream input to the daemon.
    /// - Parameter whenDurable: runs its argument once every line decided so far is durable
    ///   (the daemon's log fsync, or its next checkpoint when it writes checkpoints).
    /// - Parameter held: origins of the records the (restored) engine holds undecided.
    /// - Parameter write: appends lines to the decision log (a stream entry's, once Redis committed them).
    func open(_ configuration: DaemonConfiguration, sources: SourceTable, loop: EventLoop, logger: Logger,
              held: [RecordOrigin], whenDurable: @escaping (@escaping () -> Void) -> Void,
              write: @escaping ([UInt8]) -> Void, start: (Input) -> Void) throws {
        let names = sources.snapshot().map(\.name)
        for stream in configuration.redisStreams {
            let input = try RedisStreamInput(configuration: stream, sources: sources, loop: loop, logger: logger,
                                             maxRecordSize: configuration.maxRecordSize)
            input.whenDurable = whenDurable
            input.writeLines = { [unowned self] lines in
                write(lines)
                decisionStream?.append(lines)
            }
            input.logPath = configuration.decisionsPath == "-" ? nil : configuration.decisionsPath
            // Entries of this stream that the checkpoint's engine still holds records of.
            var heldSeqs: [UInt32: Set<UInt64>] = [:]
            for origin in held where Int(origin.source) < names.count && names[Int(origin.source)].hasPrefix(input.streamName + "/") {
                heldSeqs[origin.source, default: []].insert(origin.seq)
            }
            for (slot, seqs) in heldSeqs {
                let name = names[Int(slot)]
                let suppressed = configuration.startPlan.alreadyLogged[name] ?? []
                input.adoptRestored(slot: slot, id: String(name.dropFirst(input.streamName.count + 1)), seqs: seqs,
                                    expected: seqs.subtracting(suppressed).count)
            }
            inputs.append(input)
            let claims = stream.claimAfter.map { ", claiming entries idle over \($0) s" } ?? ""
            logger.info("reading \(input.streamName) as consumer \(stream.consumer) of group \(stream.group)\(claims)")
            start(input)
        }
        if let stream = configuration.decisionStream {
            decisionStream = try RedisDecisionStream(configuration: stream, loop: loop, logger: logger)
            logger.info("decisions also to redis://\(stream.url.authority)/\(stream.stream) (MAXLEN ~ \(stream.maxLength))")
        }
    }

    /// One engine output: counts per source (entries complete), lines for the decision stream,
    /// and the stream entries' lines, which their input writes once Redis has committed them.
    func didWork(decidedPerSource: [UInt32: Int], lines: [UInt8], deferred: [UInt32: [UInt8]]) {
        for input in inputs { input.noteDecided(decidedPerSource, lines: deferred) }
        decisionStream?.append(lines)
    }

    /// The `prunerd status` fields of the Redis parts (none without them).
    func writeStatus(into json: inout JSONWriter) {
        if !inputs.isEmpty {
            json.key("redis_streams")
            json.openArray()
            for input in inputs {
                json.open()
                json.field("stream", input.streamName)
                json.field("group", input.configuration.group)
                json.field("consumer", input.configuration.consumer)
                json.field("entries_read", input.entriesRead)
                json.field("entries_acknowledged", input.entriesAcknowledged)
                json.field("entries_claimed", input.entriesClaimed)
                json.field("bad_entries", input.badEntries)
                json.field("entries_in_hand", input.entriesInHand)
                json.close()
            }
            json.closeArray()
        }
        if let decisionStream {
            json.field("decision_stream", decisionStream.configuration.stream)
            json.field("decision_stream_batches_sent", decisionStream.batchesSent)
            json.field("decision_stream_batches_dropped", decisionStream.batchesDropped)
        }
    }

    /// At shutdown, after the last lines: the last acknowledgements and batches go out,
    /// then every connection closes (bounded wait when Redis is unreachable).
    func finish() {
        for input in inputs { input.finish() }
        decisionStream?.finish()
    }
}
