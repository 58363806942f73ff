// A Redis stream read as one input of the daemon through a consumer group
// (`--listen redis://HOST:PORT/STREAM?group=NAME`, issue 18).
//
// Each stream entry is a unit of work: its field `records` holds one whole
// wire-format message (PRN1 or JSON Lines, LZ4 or raw), decoded on its own by the
// same decoders as socket and file inputs. Its records' decision lines name the
// entry: `src` is `redis://HOST:PORT/STREAM/ENTRY-ID`, `seq` the record's index in
// the entry. An entry is acknowledged (XACK) only once every one of its lines is
// durable: written and fsynced, or, with a state directory, covered by a written
// checkpoint (a restart cuts the log back to its checkpoint, so a line after it
// is not durable yet).
//
// Two connections: `reader` only issues XREADGROUP … BLOCK (a blocked command
// holds its connection), `control` acknowledges, claims and keeps this consumer's
// entries from looking idle.
import Logging
import PrunerCore
import PrunerIO

/// Reads entries of one Redis stream for one consumer of a group.
final class RedisStreamInput: Input {
    let configuration: RedisStreamConfiguration
    /// `redis://HOST:PORT/STREAM`: the prefix of every entry's `src`.
    let streamName: String
    /// Calls its argument once every line decided so far is durable (the daemon chooses:
    /// fsync of the log, or the next checkpoint written).
    var whenDurable: (@escaping () -> Void) -> Void = { $0() }
    /// Called once, after `finish()`, when the last acknowledgements are answered or given up.
    var onFinished: (() -> Void)?

    private let reader: RedisClient
    private let control: RedisClient
    private let logger: Logger
    private let sources: SourceTable
    /// Source slots of entries whose lines are all durable: reused for new entries, so the
    /// source table stays as large as the entries in flight, not the stream.
    private var freeSlots: [UInt32] = []
    /// Entries handed on and not yet durable, by source slot.
    private var entries: [UInt32: Entry] = [:]
    /// Ids of entries in hand (deciding, or awaiting their acknowledgement): a read of
    /// this consumer's pending entries after a reconnect must not decide them twice.
    private var known: Set<String> = []
    /// Durable entries whose XACK has not been confirmed.
    private var ackQueue: [String] = []
    private var ackInFlight = false
    private var groupReady = false
    private var readInFlight = false
    /// After (re)connecting, this consumer's own pending entries are read first (id 0,
    /// paged by the last id seen), then new ones (`>`).
    private var historyCursor: String? = "0"
    private var claimCursor = "0-0"
    private var claimInFlight = false
    private var isPaused = false
    private var isClosed = false
    private var isFinishing = false
    private var durableWaits = 0
    private var timers: [LoopTimer] = []
    private var currentEntry: (id: String, failed: Bool)?
    private let loop: EventLoop
    /// The decision log, read at start for this consumer's pending entries (nil: stdout).
    var logPath: String?
    /// After a restart: per entry id, the `seq`s not to hand in again (in the log, or held by
    /// the restored engine), filled once the pending entries are known.
    private var skipSeqs: [String: Set<UInt64>] = [:]
    /// Per entry id, the seqs the restored engine holds (it decides them itself).
    private var restoredHeld: [String: Set<UInt64>] = [:]
    private var isReconciled = false
    /// Parts of an entry not yet decided (the restored engine's and a new delivery's), and their slots.
    private var partsLeft: [String: Int] = [:]
    private var slotsOf: [String: [UInt32]] = [:]

    /// Counters for the run's log lines and tests.
    private(set) var entriesRead = 0
    private(set) var entriesClaimed = 0
    private(set) var entriesAcknowledged = 0
    private(set) var badEntries = 0
    /// Entries read and not yet acknowledged (deciding, or waiting for the XACK).
    var entriesInHand: Int { known.count }

    private struct Entry {
        var id: String
        /// Records handed on under this slot (known once the entry is decoded).
        var records: UInt64?
        var decided: UInt64 = 0
    }

    /// The restored engine holds records of these entries under their old source slots: they
    /// count towards their entry's acknowledgement, and are not handed in again when the entry
    /// is delivered again. `expected` leaves out the seqs whose second line is suppressed.
    func adoptRestored(slot: UInt32, id: String, seqs: Set<UInt64>, expected: Int) {
        restoredHeld[id, default: []].formUnion(seqs)
        partsLeft[id, default: 0] += 1
        slotsOf[id, default: []].append(slot)
        entries[slot] = Entry(id: id, records: UInt64(expected))
        completeIfDecided(slot)
    }

    init(configuration: RedisStreamConfiguration, sources: SourceTable, loop: EventLoop, logger: Logger,
         maxRecordSize: Int) throws(UVError) {
        self.configuration = configuration
        self.sources = sources
        self.loop = loop
        self.logger = logger
        var base = configuration.url
        base.query = []
        streamName = base.description
        reader = try RedisClient(url: configuration.url, role: "stream \(configuration.stream) reader", loop: loop, logger: logger)
        control = try RedisClient(url: configuration.url, role: "stream \(configuration.stream) control", loop: loop, logger: logger)
        super.init(name: streamName, source: sources.register(name: streamName), maxRecordSize: maxRecordSize)
        reader.onConnected = { [unowned self] in
            groupReady = false
            historyCursor = "0"
            createGroup()
        }
        control.onConnected = { [unowned self] in flushAcks() }
    }

    // MARK: Input

    override func start() {
        if let claimAfter = configuration.claimAfter, let timer = try? LoopTimer(on: loop, action: { [unowned self] in claim() }) {
            let interval = UInt64(max(100, min(5000, claimAfter * 500)))
            timer.start(after: interval, every: interval)
            timers.append(timer)
        }
        // Keeps the entries in hand from looking idle to other consumers' --claim-after.
        if let timer = try? LoopTimer(on: loop, action: { [unowned self] in touchEntriesInHand() }) {
            let interval = UInt64(max(100, min(10_000, (configuration.claimAfter ?? 30) * 333)))
            timer.start(after: interval, every: interval)
            timers.append(timer)
        }
        readNext()
    }

    override func pause() { isPaused = true }

    override func resume() {
        isPaused = false
        readNext()
    }

    /// Stops reading; acknowledgements go on until `finish()` ends them.
    override func close() {
        isClosed = true
        for timer in timers { timer.close() }
        timers = []
    }

    /// Decodes one entry's `records` bytes as a whole message, never throwing: a bad
    /// entry is reported with the stream, the entry id, the offset and the reason,
    /// its records before the damage are decided, and the daemon reads on.
    override func decode(_ bytes: UnsafeRawBufferPointer, _ sink: (RecordEvent, RecordOrigin) -> Void) throws(StreamError) {
        guard let entry = currentEntry else { return }
        do throws(StreamError) {
            try super.decode(bytes, sink)
            try super.finishDecoding(sink)
        } catch {
            currentEntry?.failed = true
            badEntries += 1
            logger.error("input \(streamName): entry \(entry.id): \(error); its first \(nextSeq) records are decided, the rest of the entry is skipped, and it is acknowledged")
        }
    }

    // MARK: Reading

    private func createGroup() {
        // From 0, not $: a group created on a stream that already holds entries (a crawler
        // that started first) must prune those too. An existing group keeps its position.
        reader.send(["XGROUP", "CREATE", configuration.stream, configuration.group, "0", "MKSTREAM"]) { [self] result in
            switch result {
            case .success(let reply) where reply.errorMessage == nil || reply.errorMessage!.hasPrefix("BUSYGROUP"):
                groupReady = true
                if isReconciled { readNext() } else { reconcile() }
            case .success(let reply):
                logger.error("input \(streamName): XGROUP CREATE \(configuration.group) refused: \(reply.errorMessage!); retrying in 5 s")
                retry(after: 5000) { [self] in createGroup() }
            case .failure:
                break   // the reader reconnects and creates it again
            }
        }
    }

    /// Runs `body` once after `milliseconds` (one pending retry at a time: the newest wins).
    private func retry(after milliseconds: UInt64, _ body: @escaping () -> Void) {
        retryAction = body
        if retryTimer == nil {
            retryTimer = try? LoopTimer(on: loop) { [unowned self] in
                let action = retryAction
                retryAction = nil
                action?()
            }
        }
        retryTimer?.start(after: milliseconds)
    }
    private var retryTimer: LoopTimer?
    private var retryAction: (() -> Void)?

    /// Once, before the first read: this consumer's pending entries (a killed run under the same
    /// `--consumer`) are looked up in the decision log and the restored engine, so that a
    /// redelivered entry hands in only the records that have no line and are not held.
    private func reconcile() {
        reader.send(["XPENDING", configuration.stream, configuration.group, "-", "+", 100_000, configuration.consumer]) { [self] result in
            guard case .success(let reply) = result else { return }   // reconnecting: asked again
            let pending = Set((reply.elements ?? []).compactMap { $0.elements?.first?.text })
            let logged = RedisEntryLog.loggedSeqs(path: logPath ?? "-", prefix: streamName, ids: pending)
            var skipped = 0
            for id in pending {
                let skip = (logged[id] ?? []).union(restoredHeld[id] ?? [])
                if !skip.isEmpty { skipSeqs[id] = skip; skipped += skip.count }
            }
            if !pending.isEmpty {
                logger.info("input \(streamName): \(pending.count) entries were pending for consumer \(configuration.consumer); \(skipped) of their records have a line or are held by the restored engine and are not handed in again")
            }
            isReconciled = true
            readNext()
        }
    }

    private func readNext() {
        guard !isPaused, !isClosed, groupReady, isReconciled, !readInFlight, reader.isConnected else { return }
        readInFlight = true
        var arguments: [any RedisArgument] = ["XREADGROUP", "GROUP", configuration.group, configuration.consumer,
                                             "COUNT", configuration.count]
        let history = historyCursor
        if history == nil { arguments += ["BLOCK", Int(configuration.block * 1000)] }
        arguments += ["STREAMS", configuration.stream, history ?? ">"]
        reader.send(arguments, blocking: history == nil ? configuration.block : 0) { [self] result in
            readInFlight = false
            switch result {
            case .success(let reply):
                if let error = reply.errorMessage {
                    if error.hasPrefix("NOGROUP") {
                        // The stream or group went away (a Redis restarted without persistence): make them again.
                        logger.warning("input \(streamName): \(error); creating the group again")
                        groupReady = false
                        createGroup()
                    } else {
                        logger.error("input \(streamName): XREADGROUP refused: \(error); retrying in 1 s")
                        retry(after: 1000) { [self] in readNext() }
                    }
                    return
                }
                let read = Self.entries(of: reply)
                if history != nil { historyCursor = read.last?.id }
                for entry in read { deliver(id: entry.id, fields: entry.fields) }
                readNext()
            case .failure:
                break   // reconnecting; onConnected reads this consumer's pending entries first
            }
        }
    }

    /// The entries of an XREADGROUP or XAUTOCLAIM entry list: (id, field/value pairs or nil for a deleted entry).
    static func entries(of reply: RedisReply) -> [(id: String, fields: [RedisReply]?)] {
        // XREADGROUP: [[stream, [entry…]]]; nil when BLOCK ran out.
        guard let streams = reply.elements else { return [] }
        return streams.flatMap { stream -> [(id: String, fields: [RedisReply]?)] in
            guard let parts = stream.elements, parts.count == 2 else { return [] }
            return entryList(parts[1])
        }
    }

    /// `[[id, [field, value, …]], …]`.
    static func entryList(_ list: RedisReply) -> [(id: String, fields: [RedisReply]?)] {
        (list.elements ?? []).compactMap { entry in
            guard let pair = entry.elements, pair.count == 2, let id = pair[0].text else { return nil }
            return (id, pair[1].elements)
        }
    }

    /// Hands one entry to the daemon (or acknowledges it at once when there is nothing to decide).
    private func deliver(id: String, fields: [RedisReply]?) {
        guard !known.contains(id) else { return }
        known.insert(id)
        entriesRead += 1
        guard let fields else {
            logger.warning("input \(streamName): entry \(id) was deleted from the stream before it was decided (trimmed); acknowledged without a decision")
            acknowledge(id)
            return
        }
        var payload: [UInt8]?
        var names: [String] = []
        var index = 0
        while index + 1 < fields.count {
            let field = fields[index].text ?? ""
            names.append(field)
            if field == "records", case .string(let bytes) = fields[index + 1] { payload = bytes }
            index += 2
        }
        guard let payload, !payload.isEmpty else {
            badEntries += 1
            let problem = payload == nil
                ? "no field 'records' (fields: \(names.isEmpty ? "none" : names.joined(separator: ", ")))"
                : "field 'records' is empty"
            logger.error("input \(streamName): entry \(id): offset 0: \(problem); acknowledged without a decision")
            acknowledge(id)
            return
        }
        let slot = takeSlot(name: "\(streamName)/\(id)")
        entries[slot] = Entry(id: id)
        partsLeft[id, default: 0] += 1
        slotsOf[id, default: []].append(slot)
        beginEntry(name: "\(streamName)/\(id)", source: slot)
        skippedSeqs = skipSeqs.removeValue(forKey: id)
        currentEntry = (id, false)
        let before = deliveredCount
        payload.withUnsafeBytes { delegate?.input(self, didRead: $0) }
        currentEntry = nil
        skippedSeqs = nil
        entries[slot]?.records = deliveredCount - before
        completeIfDecided(slot)
    }

    private func takeSlot(name: String) -> UInt32 {
        if let slot = freeSlots.popLast() {
            sources.rename(slot, to: name)
            return slot
        }
        return sources.register(name: name)
    }

    // MARK: Decisions and acknowledgements

    /// The daemon's count of lines formatted per source in one engine output.
    func noteDecided(_ perSource: [UInt32: Int]) {
        for (slot, count) in perSource where entries[slot] != nil {
            entries[slot]!.decided += UInt64(count)
            completeIfDecided(slot)
        }
    }

    /// An entry all of whose parts have their lines: acknowledged once those are durable.
    private func completeIfDecided(_ slot: UInt32) {
        guard let entry = entries[slot], let records = entry.records, entry.decided >= records else { return }
        entries[slot] = nil
        partsLeft[entry.id, default: 1] -= 1
        guard partsLeft[entry.id]! <= 0 else { return }
        partsLeft[entry.id] = nil
        let slots = slotsOf.removeValue(forKey: entry.id) ?? [slot]
        durableWaits += 1
        whenDurable { [self] in
            durableWaits -= 1
            // Its lines are written: the slots' names may change for the next entries.
            freeSlots += slots
            acknowledge(entry.id)
        }
    }

    private func acknowledge(_ id: String) {
        ackQueue.append(id)
        flushAcks()
    }

    /// One XACK in flight with every durable id queued so far; the ids stay queued until
    /// Redis confirms, so a broken connection only delays them.
    private func flushAcks() {
        guard !ackInFlight, !ackQueue.isEmpty, control.isConnected else {
            finishIfDone()
            return
        }
        ackInFlight = true
        let ids = Array(ackQueue.prefix(1000))
        control.send(["XACK", configuration.stream, configuration.group] + ids) { [self] result in
            ackInFlight = false
            switch result {
            case .success(let reply) where reply.errorMessage == nil:
                ackQueue.removeFirst(ids.count)
                entriesAcknowledged += ids.count
                for id in ids { known.remove(id) }
            case .success(let reply):
                logger.error("input \(streamName): XACK refused: \(reply.errorMessage!); the entries stay pending")
                ackQueue.removeFirst(ids.count)
                for id in ids { known.remove(id) }
            case .failure:
                break   // retried once control is back
            }
            flushAcks()
        }
    }

    // MARK: Claims

    /// `--claim-after`: takes over entries another consumer left pending that long (a dead shard).
    private func claim() {
        guard let claimAfter = configuration.claimAfter, !isPaused, !isClosed, !claimInFlight, control.isConnected else { return }
        claimInFlight = true
        control.send(["XAUTOCLAIM", configuration.stream, configuration.group, configuration.consumer,
                      Int(claimAfter * 1000), claimCursor, "COUNT", configuration.count]) { [self] result in
            claimInFlight = false
            guard case .success(let reply) = result else { return }
            if let error = reply.errorMessage {
                if !error.hasPrefix("NOGROUP") { logger.error("input \(streamName): XAUTOCLAIM refused: \(error)") }
                return
            }
            guard let parts = reply.elements, parts.count >= 2 else { return }
            claimCursor = parts[0].text ?? "0-0"
            let claimed = Self.entryList(parts[1]).filter { !known.contains($0.id) }
            if !claimed.isEmpty {
                entriesClaimed += claimed.count
                logger.info("input \(streamName): claimed \(claimed.count) entries pending over \(claimAfter) s with another consumer (from \(claimed[0].id))")
            }
            for entry in claimed { deliver(id: entry.id, fields: entry.fields) }
            // More may be due: go on at once rather than at the next tick.
            if claimCursor != "0-0" && !claimed.isEmpty { claim() }
        }
    }

    /// Resets the idle time of the entries this consumer holds (XCLAIM … JUSTID to itself),
    /// so a slow warm-up or look-ahead is not mistaken for a dead consumer.
    private func touchEntriesInHand() {
        guard !known.isEmpty, control.isConnected else { return }
        let ids = Array(known.prefix(10_000))
        control.send(["XCLAIM", configuration.stream, configuration.group, configuration.consumer, "0"] + ids + ["JUSTID"]) { _ in }
    }

    // MARK: Stopping

    /// At the daemon's stop, after the last decisions: acknowledges what becomes durable,
    /// then closes both connections (giving up after a few seconds if Redis is unreachable:
    /// those entries stay pending, and another consumer or a restart takes them).
    func finish() {
        close()
        isFinishing = true
        if let timer = try? LoopTimer(on: loop, action: { [unowned self] in
            if !ackQueue.isEmpty || durableWaits > 0 {
                logger.warning("input \(streamName): \(ackQueue.count + durableWaits) entries decided but not acknowledged (Redis unreachable); they stay pending and are delivered again")
            }
            end()
        }) {
            timer.start(after: UInt64(RedisClient.defaultCommandTimeout * 1000))
            timer.unref()
            timers.append(timer)
        }
        finishIfDone()
    }

    private func finishIfDone() {
        guard isFinishing, ackQueue.isEmpty, durableWaits == 0, !ackInFlight else { return }
        end()
    }

    private func end() {
        guard isFinishing else { return }
        isFinishing = false
        for timer in timers { timer.close() }
        timers = []
        retryTimer?.close()
        retryTimer = nil
        reader.close()
        control.close()
        logger.info("input \(streamName): \(entriesRead) entries read (\(entriesClaimed) claimed from other consumers, \(badEntries) bad), \(entriesAcknowledged) acknowledged")
        onFinished?()
    }
}
