// A Redis stream read as one input of the daemon through a consumer group
// (`--listen redis://HOST:PORT/STREAM?group=NAME`, issue 18).
//
// Each stream entry is a unit of work: its field `records` holds one whole
// wire-format message (PRN1 or JSON Lines, LZ4 or raw), decoded on its own by the
// same decoders as socket and file inputs. Its records' decision lines name the
// entry: `src` is `redis://HOST:PORT/STREAM/ENTRY-ID`, `seq` the record's index in
// the entry. Its lines are not written with their batch: once every record of
// the entry is decided, one script acknowledges it in Redis only if it is still
// pending for this consumer, storing its lines in this consumer's `unlogged`
// hash in the same atomic step (RedisEntryCommit); the lines are written to the
// log after that, and the hash field is deleted once they are fsynced. So a line
// in a log is a committed one: an entry another consumer claimed meanwhile is
// decided in one log only (docs/scale-out.md, "exactly once").
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
    /// Appends committed lines to the decision log (and the decision stream).
    var writeLines: ([UInt8]) -> Void = { _ in }

    private let reader: RedisClient
    private let control: RedisClient
    private let logger: Logger
    private let sources: SourceTable
    /// Source slots of entries whose lines are all durable: reused for new entries, so the
    /// source table stays as large as the entries in flight, not the stream.
    private var freeSlots: [UInt32] = []
    /// Slots the restored engine holds records under (`adoptRestored`): never reused. The
    /// records of them that an earlier run logged are suppressed by slot and seq
    /// (`startPlan.alreadyLogged`), and such a part completes before the engine has decided
    /// them; a new entry in the reused slot had its records with those seqs suppressed as
    /// well, so it never completed and was never committed (its records were lost).
    private var restoredSlots: Set<UInt32> = []
    /// Entries handed on and not yet durable, by source slot.
    private var entries: [UInt32: Entry] = [:]
    /// Ids of entries in hand (deciding, or awaiting their acknowledgement): a read of
    /// this consumer's pending entries after a reconnect must not decide them twice.
    private var known: Set<String> = []
    /// Decided entries whose commit (acknowledgement with their lines) Redis has not answered.
    private var commitQueue: [Commit] = []
    private var commitInFlight = false
    /// Entries whose commit was sent at least once: a second answer "committed earlier" is ours.
    private var attempted: Set<String> = []
    /// Committed entries whose lines are fsynced: their `unlogged` fields are deleted.
    private var unloggedDone: [String] = []
    private var unloggedDeleteInFlight = false
    /// This consumer's hash of committed lines not yet fsynced (RedisEntryCommit).
    private let unloggedKey: String
    /// Lines of an entry's parts decided so far, by entry id.
    private var linesOf: [String: [UInt8]] = [:]
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
        /// This part's decision lines, waiting for the entry's commit.
        var lines: [UInt8] = []
    }

    /// One entry to commit: its lines and the source slots to free once Redis answered.
    private struct Commit {
        var id: String
        var lines: [UInt8]
        var slots: [UInt32]
    }

    /// The restored engine holds records of these entries under their old source slots: they
    /// count towards their entry's acknowledgement, and are not handed in again when the entry
    /// is delivered again. `expected` leaves out the seqs whose second line is suppressed.
    func adoptRestored(slot: UInt32, id: String, seqs: Set<UInt64>, expected: Int) {
        restoredHeld[id, default: []].formUnion(seqs)
        restoredSlots.insert(slot)
        sources.setDefers(slot)
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
        unloggedKey = RedisEntryCommit.unloggedKey(stream: configuration.stream, group: configuration.group, consumer: configuration.consumer)
        reader = try RedisClient(url: configuration.url, role: "stream \(configuration.stream) reader", loop: loop, logger: logger)
        control = try RedisClient(url: configuration.url, role: "stream \(configuration.stream) control", loop: loop, logger: logger)
        super.init(name: streamName, source: sources.register(name: streamName), maxRecordSize: maxRecordSize)
        reader.onConnected = { [unowned self] in
            groupReady = false
            historyCursor = "0"
            createGroup()
        }
        control.onConnected = { [unowned self] in
            flushCommits()
            deleteUnlogged()
        }
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
        guard !unloggedRecovered else { return reconcilePending() }
        reader.send(["HGETALL", unloggedKey]) { [self] result in
            guard case .success(let reply) = result else { return }   // reconnecting: asked again
            unloggedRecovered = true
            recoverUnlogged(reply.elements ?? [])
            reconcilePending()
        }
    }
    /// The `unlogged` hash was read once (its lines are being written: not again on a reconnect).
    private var unloggedRecovered = false

    /// Lines a killed run committed but may not have fsynced (its `unlogged` fields): those the
    /// log lacks are written now, then the fields are deleted.
    private func recoverUnlogged(_ pairs: [RedisReply]) {
        var blobs: [String: [UInt8]] = [:]
        var index = 0
        while index + 1 < pairs.count {
            if let id = pairs[index].text, case .string(let bytes) = pairs[index + 1] { blobs[id] = bytes }
            index += 2
        }
        guard !blobs.isEmpty else { return }
        let logged = RedisEntryLog.loggedSeqs(path: logPath ?? "-", prefix: streamName, ids: Set(blobs.keys))
        var missing: [UInt8] = []
        for (id, bytes) in blobs { missing += RedisEntryLog.lines(bytes, without: logged[id] ?? []) }
        let count = missing.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        logger.info("input \(streamName): \(blobs.count) entries committed by an earlier run of consumer \(configuration.consumer) were waiting for their fsync; \(count) of their lines were not in the log and are written now from Redis")
        writeLines(missing)
        durableWaits += 1
        whenDurable { [self] in
            durableWaits -= 1
            unloggedDone += blobs.keys
            deleteUnlogged()
        }
    }

    private func reconcilePending() {
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
        let slot = sources.register(name: name)
        sources.setDefers(slot)
        return slot
    }

    // MARK: Decisions and acknowledgements

    /// The daemon's count of lines formatted per source in one engine output, and the lines
    /// of the entries' sources (deferred: written once committed).
    func noteDecided(_ perSource: [UInt32: Int], lines: [UInt32: [UInt8]]) {
        for (slot, bytes) in lines where entries[slot] != nil { entries[slot]!.lines += bytes }
        for (slot, count) in perSource where entries[slot] != nil {
            entries[slot]!.decided += UInt64(count)
            completeIfDecided(slot)
        }
    }

    /// An entry all of whose parts have their lines: committed (then its lines are written).
    private func completeIfDecided(_ slot: UInt32) {
        guard let entry = entries[slot], let records = entry.records, entry.decided >= records else { return }
        entries[slot] = nil
        linesOf[entry.id, default: []] += entry.lines
        partsLeft[entry.id, default: 1] -= 1
        guard partsLeft[entry.id]! <= 0 else { return }
        partsLeft[entry.id] = nil
        let slots = slotsOf.removeValue(forKey: entry.id) ?? [slot]
        commitQueue.append(Commit(id: entry.id, lines: linesOf.removeValue(forKey: entry.id) ?? [], slots: slots))
        flushCommits()
    }

    /// An entry with nothing to decide (bad, or trimmed): committed without lines.
    private func acknowledge(_ id: String) {
        commitQueue.append(Commit(id: id, lines: [], slots: []))
        flushCommits()
    }

    /// One commit in flight with the entries queued so far (at most 1,000, or 8 MiB of lines);
    /// they stay queued until Redis answers, so a broken connection only delays them.
    private func flushCommits() {
        guard !commitInFlight, !commitQueue.isEmpty, control.isConnected else {
            finishIfDone()
            return
        }
        var count = 0, bytes = 0
        while count < min(commitQueue.count, 1000) && (count == 0 || bytes + commitQueue[count].lines.count <= 8 << 20) {
            bytes += commitQueue[count].lines.count
            count += 1
        }
        let batch = Array(commitQueue.prefix(count))
        if bytes > 0 { RedisEntryCommit.KillPoint.beforeCommit.killIfConfigured() }
        let retried = Set(batch.map(\.id)).intersection(attempted)
        attempted.formUnion(batch.map(\.id))
        commitInFlight = true
        var arguments: [any RedisArgument] = ["EVAL", RedisEntryCommit.script, 2, configuration.stream, unloggedKey,
                                             configuration.group, configuration.consumer]
        for commit in batch { arguments += [commit.id, commit.lines] }
        control.send(arguments) { [self] result in
            commitInFlight = false
            switch result {
            case .success(let reply) where reply.errorMessage == nil:
                commitQueue.removeFirst(batch.count)
                let outcomes = (reply.elements ?? []).map { $0.integer.flatMap { RedisEntryCommit.Outcome(rawValue: Int($0)) } }
                if bytes > 0 { RedisEntryCommit.KillPoint.afterCommit.killIfConfigured() }
                var written: [String] = []
                var discarded: [(String, Int)] = []
                for (index, commit) in batch.enumerated() {
                    attempted.remove(commit.id)
                    known.remove(commit.id)
                    freeSlots += commit.slots.filter { !restoredSlots.contains($0) }
                    switch index < outcomes.count ? outcomes[index] : nil {
                    case .committed?, .groupGone?:
                        entriesAcknowledged += 1
                        writeLines(commit.lines)
                        if !commit.lines.isEmpty { written.append(commit.id) }
                    case .committedEarlier? where retried.contains(commit.id):
                        entriesAcknowledged += 1
                        writeLines(commit.lines)
                        written.append(commit.id)
                    default:
                        // Claimed by another consumer meanwhile (it decides the entry), or committed by an
                        // earlier run of this one (its lines are in the log or written from Redis at start).
                        if !commit.lines.isEmpty { discarded.append((commit.id, commit.lines.count)) }
                    }
                }
                if outcomes.contains(.groupGone) {
                    logger.warning("input \(streamName): the group \(configuration.group) is gone (Redis lost it); decided entries are written without a commit")
                }
                if let first = discarded.first {
                    logger.warning("input \(streamName): \(discarded.count) entries (from \(first.0)) are no longer pending for consumer \(configuration.consumer) (claimed by another consumer after --claim-after, or committed by an earlier run): their decisions here are discarded, not logged")
                }
                if !written.isEmpty {
                    durableWaits += 1
                    whenDurable { [self] in
                        durableWaits -= 1
                        unloggedDone += written
                        deleteUnlogged()
                    }
                }
            case .success(let reply):
                // The script itself was refused (no scripting?): nothing was committed; the entries stay pending.
                logger.error("input \(streamName): commit refused: \(reply.errorMessage!); the entries stay pending and are delivered again")
                commitQueue.removeFirst(batch.count)
                for commit in batch {
                    attempted.remove(commit.id)
                    known.remove(commit.id)
                    freeSlots += commit.slots.filter { !restoredSlots.contains($0) }
                }
            case .failure:
                break   // retried once control is back
            }
            flushCommits()
        }
    }

    /// Deletes the `unlogged` fields of entries whose lines are fsynced (one HDEL in flight).
    private func deleteUnlogged() {
        guard !unloggedDeleteInFlight, !unloggedDone.isEmpty, control.isConnected else {
            finishIfDone()
            return
        }
        unloggedDeleteInFlight = true
        let ids = Array(unloggedDone.prefix(1000))
        control.send(["HDEL", unloggedKey] + ids) { [self] result in
            unloggedDeleteInFlight = false
            if case .success = result { unloggedDone.removeFirst(ids.count) }
            deleteUnlogged()
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
            if !commitQueue.isEmpty {
                logger.warning("input \(streamName): \(commitQueue.count) entries decided but not committed (Redis unreachable): their lines are not in the log; they stay pending and are decided again by a restart or another consumer")
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
        guard isFinishing, commitQueue.isEmpty, durableWaits == 0, !commitInFlight, unloggedDone.isEmpty, !unloggedDeleteInFlight else { return }
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
