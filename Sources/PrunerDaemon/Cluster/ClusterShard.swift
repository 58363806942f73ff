// One daemon as a shard of a cluster: every `--sync-every` seconds it publishes its
// statistics to Redis, reads the other shards' latest, and hands their sum to its
// engine, so quotas, thresholds and the keep ratio are the cluster's; before that,
// it takes part in choosing the cluster's centroids (docs/scale-out.md).
//
// Everything here runs on the loop thread. The engine is touched only through
// `whenEngineIdle` (between engine jobs). Redis being away never stops decisions:
// the engine keeps its last global view plus its own live statistics, the client
// warns once and reconnects with backoff, and the next sync after it returns
// publishes the shard's whole current state (snapshots are cumulative, so there
// is nothing else to catch up).
import CLibUV
import Logging
import PrunerCore
#if canImport(Glibc)
import Glibc
#endif

/// The cluster side of a daemon.
final class ClusterShard {
    /// What the shard needs from its daemon.
    struct Hooks {
        /// Runs the body once no engine job runs (at once if none does).
        var whenEngineIdle: (@escaping () -> Void) -> Void
        /// The engine can take batches again or may finish (an epoch was adopted): pump the daemon.
        var wake: () -> Void
        /// Hands the engine an empty batch, if it is free: a leader whose input has all been
        /// handed already ends its warm-up (fits epoch 1) in that job, without finishing.
        var nudge: () -> Void
    }

    /// Where the shard stands on the cluster's centroids.
    enum Role: String {
        /// No epoch yet and not leading: records wait in the warm-up.
        case waiting
        /// Holds the leader's claim and fits epoch 1 on its own warm-up.
        case leader
        /// Decides against the cluster's epoch.
        case member
    }

    let configuration: ClusterConfiguration
    private let keys: ClusterKeys
    private let engine: StreamingEngine
    private let client: RedisClient
    private let logger: Logger
    private let hooks: Hooks
    private let loop: EventLoop
    private var timer: LoopTimer!

    private(set) var role = Role.waiting
    /// The centroids this shard decides against (nil while waiting or fitting).
    private(set) var epoch: CentroidEpoch?
    /// Set once Redis holds our epoch (published by us or adopted from it) since the last connect.
    private var epochConfirmed = false
    /// The cluster's epoch differs from the one this shard decides against (e.g. Redis was
    /// emptied and another shard led anew): statistics are then not merged, only reported.
    private var epochConflict = false
    private var view: ClusterView
    /// Sequence of the last snapshot published (continues from what Redis holds at each connect).
    private(set) var sequence: UInt64 = 0
    /// Redis told us the last sequence it holds for this shard, since the last connect.
    private var sequenceKnown = false
    private var syncInFlight = false
    private var lastSyncAt: UInt64 = 0
    private var lastPresenceAt: UInt64 = 0
    private var lastRenewalAt: UInt64 = 0
    /// Loop time each other shard was last found in Redis.
    private var lastSeen: [String: UInt64] = [:]
    /// Loop time of the last read of the others that Redis answered, nil before the first.
    private var lastReadAt: UInt64?
    private var finishRequested = false
    /// Loop time the input ended (the engine wants to finish), nil before.
    private var finishRequestedAt: UInt64?
    /// A snapshot marked final (all this shard's records counted) has been published.
    private var publishedFinal = false
    /// Every other shard published its final snapshot too, or the wait timed out: finish now.
    private var barrierPassed = false
    private var stopped = false
    /// Loop time of the daemon's stop (SIGTERM), nil before.
    private var stopRequestedAt: UInt64?
    /// Finish at once: a second stop signal, or no epoch found within the bound after a stop.
    private var hurried = false
    /// Loop time this shard took an epoch (led or adopted) while its engine holds every record
    /// until each present shard's statistics of the epoch are in the view; nil when not holding.
    private var holdingSince: UInt64?

    // Figures for status and docs/scale-out.md.
    private(set) var syncs = 0
    private(set) var bytesSentTotal = 0
    private(set) var bytesReceivedTotal = 0
    private(set) var lastSyncBytes = (sent: 0, received: 0)
    private(set) var coordinationNanoseconds: UInt64 = 0
    private var peers = 0
    /// The last view read, carried forward while Redis does not answer (`LastView`).
    private var lastView: LastView?
    /// Loop time the view was last carried forward (once per `--sync-every` while Redis is away).
    private var lastCarriedAt: UInt64 = 0
    /// This shard's own statistics at its first view of the epoch: the members it counted since
    /// give the shape of what the others receive while Redis is away (not the leader's fit,
    /// whose members sit closer to the centroids).
    private var firstViewOwn: ShardStatistics?
    /// Views read so far: an estimate queued before a fresh view is not applied after it.
    private var viewsRead = 0

    /// - Throws: `UVError` when the client's or the sync's timers cannot be made.
    init(configuration: ClusterConfiguration, engine: StreamingEngine, loop: EventLoop, logger: Logger, hooks: Hooks) throws(UVError) {
        self.configuration = configuration
        self.keys = configuration.keys
        self.engine = engine
        self.loop = loop
        self.logger = logger
        self.hooks = hooks
        self.view = ClusterView(own: configuration.shardID)
        // Retried at least as often as it syncs: a shard's view is meant to be --sync-every old at
        // most, and after an outage the 5 s back-off left a shard on its stale view up to 5 s
        // longer than Redis was away (docs/scale-out.md, "Failures of shared state").
        client = try RedisClient(url: configuration.url, role: "cluster \(configuration.url.name)", loop: loop, logger: logger,
                                 longestRetryDelay: UInt64((configuration.syncEvery * 1000).rounded()))
        let state = engine.clusterState
        if !state.warming, let d = state.dimension {
            // Restored from a checkpoint past warm-up: its centroids are the cluster's epoch 1.
            epoch = CentroidEpoch(epoch: 1, leader: "", clusters: engine.options.clusters, dimension: d, centroids: state.centroids)
            role = .member
        } else {
            engine.waitsForClusterCentroids = true
            engine.pruner?.waitsForClusterCentroids = true
        }
        client.onConnected = { [unowned self] in rejoin() }
        timer = try LoopTimer(on: loop) { [unowned self] in tick() }
        // Fast ticks while there is no epoch (adoption waits at most one), full syncs every --sync-every.
        timer.start(after: Self.tick, every: Self.tick)
        logger.info("cluster \(configuration.url.name): shard \(configuration.shardID) at \(configuration.url.authority), sync every \(configuration.syncEvery) s, lease \(configuration.lease) s")
    }

    /// Leases a shard at the end of its input waits for the others' final statistics. A dead
    /// shard leaves the view after one lease by itself; this bounds the wait for live ones.
    static let barrierLeases = 4.0

    /// Milliseconds between ticks.
    static let tick: UInt64 = 100

    // MARK: Daemon hooks

    /// Whether the daemon may hand the engine another batch: not while the shard waits
    /// for an epoch with its warm-up and look-ahead already full (inputs then feel backpressure).
    func acceptsBatches(warmup: (seen: Int, target: Int)?) -> Bool {
        if holdingSince != nil { return false }   // holding for the view: inputs feel backpressure
        guard role == .waiting, let warmup else { return true }
        return warmup.seen < warmup.target + engine.options.lookahead
    }

    /// Whether the engine may finish (decide everything held) now.
    ///
    /// A waiting shard cannot: it has no centroids; it runs for leader instead (its input
    /// is over, its warm-up will not fill) and finishes once it leads or adopts. A member
    /// first publishes a snapshot marked final and waits until every other shard's latest
    /// is final too (or `barrierLeases` leases have passed), so that the records it still holds are
    /// decided against everyone's complete statistics, as one daemon decides its held
    /// records at the end.
    ///
    /// A stop (SIGTERM) is the end of this shard's input, as the end of a file is: a Redis
    /// stream never ends, so the operator's stop is the only end a stream-fed shard has, and
    /// deciding the held records alone then would decide them on this shard's statistics
    /// (or, before an epoch, on its own centroids). The same bounds hold (`barrierLeases`
    /// leases for the barrier, and as many for finding an epoch after the stop); a second
    /// stop signal (`hurry()`) finishes at once.
    func mayFinish(stopping: Bool) -> Bool {
        if stopping && stopRequestedAt == nil { stopRequestedAt = loop.now }
        if hurried {
            if role == .waiting {
                logger.warning("cluster \(configuration.url.name): stopping before the cluster had centroids; the records held are decided on this shard's own")
                engine.leadCluster()
                role = .leader
            }
            return true
        }
        if !finishRequested { hooks.whenEngineIdle { [self] in engine.holdForClusterView(true) } }
        finishRequested = true
        if role == .waiting { return false }
        if barrierPassed || stopped { return true }
        if finishRequestedAt == nil {
            finishRequestedAt = loop.now
            lastSyncAt = 0   // publish the final snapshot at the next tick
        }
        return false
    }

    /// A second stop signal: finish now, without waiting for an epoch or the others' statistics.
    func hurry() {
        guard stopRequestedAt != nil, !hurried else { return }
        logger.info("cluster \(configuration.url.name): second stop signal: deciding the held records now, against the view so far")
        hurried = true
        hooks.wake()
    }

    /// The daemon is stopping: publish the final snapshot (if Redis answers), then let go.
    func leave() {
        guard !stopped else { return }
        stopped = true
        timer.close()
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let processSeconds = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        logger.info("cluster \(configuration.url.name): \(syncs) syncs, \(bytesSentTotal) bytes sent, \(bytesReceivedTotal) received; coordination CPU \(formatFixed(Double(coordinationNanoseconds) / 1e9, 3)) s of the process's \(formatFixed(processSeconds, 3)) s")
        guard client.isConnected, let bytes = encodeOwnSnapshot() else {
            client.close()
            return
        }
        publish(bytes, final: true) { [self] in client.close() }
    }

    // MARK: Syncing

    private func tick() {
        guard !stopped else { return }
        let now = loop.now
        if let asked = finishRequestedAt, !barrierPassed, now - asked >= UInt64(Self.barrierLeases * configuration.lease * 1000) {
            logger.warning("cluster \(configuration.url.name): not every shard published its final statistics within \(Self.barrierLeases * configuration.lease) s; deciding the held records against the view so far")
            passBarrier()
        }
        if let since = holdingSince, now - since >= UInt64(configuration.lease * 1000) {
            endHold(reason: "not every shard's statistics of the epoch came within a lease (\(configuration.lease) s)")
        }
        if let asked = stopRequestedAt, role == .waiting, !hurried, now - asked >= UInt64(Self.barrierLeases * configuration.lease * 1000) {
            logger.warning("cluster \(configuration.url.name): no epoch within \(Self.barrierLeases * configuration.lease) s of the stop")
            hurried = true
            hooks.wake()
        }
        guard client.isConnected else { return carryViewForward(now: now) }
        if role == .leader && epoch == nil && now - lastRenewalAt >= UInt64(configuration.lease * 250) {
            // Renewed from the loop, not between engine jobs: the leader's k-means is one long job.
            lastRenewalAt = now
            renewLeadership { }
        }
        guard !syncInFlight else { return }
        let due = now - lastSyncAt >= UInt64(configuration.syncEvery * 1000)
        guard due || role != .member else { return }
        syncInFlight = true
        hooks.whenEngineIdle { [self] in
            guard !stopped else { return }
            let started = Self.threadNanoseconds()
            let state = engine.clusterState
            var snapshot: [UInt8]?
            if role == .leader, epoch == nil, !state.warming, let d = state.dimension {
                epoch = CentroidEpoch(epoch: 1, leader: configuration.shardID, clusters: engine.options.clusters,
                                      dimension: d, centroids: state.centroids)
                if holdingSince != nil { holdingSince = now }   // the wait for the others' statistics starts with the fit done
            }
            if role == .leader, epoch == nil, state.warming { hooks.nudge() }
            if due { snapshot = encodeOwnSnapshot() }
            coordinationNanoseconds += Self.threadNanoseconds() - started
            if due { lastSyncAt = now }
            exchange(snapshot: snapshot, warmupFull: state.warmupFull || finishRequested, now: now)
        }
    }

    /// One round with Redis: centroids first (claim, publish or adopt), then statistics.
    private func exchange(snapshot: [UInt8]?, warmupFull: Bool, now: UInt64) {
        let pending = Countdown { [self] in syncInFlight = false }
        if let epoch, !epochConfirmed {
            pending.expect()
            publishEpoch(epoch, done: pending.done)
        } else if epoch == nil && role == .waiting {
            pending.expect()
            lookForEpoch(warmupFull: warmupFull, done: pending.done)
        }
        if snapshot == nil, role != .member, sequenceKnown, now - lastPresenceAt >= UInt64(configuration.syncEvery * 1000) {
            // Not publishing statistics yet: be present all the same, so that no shard's end waits
            // without this one (and a leader's wait for followers counts it).
            lastPresenceAt = now
            announcePresence()
        }
        if let snapshot, sequenceKnown, !epochConflict {
            pending.expect()
            publish(snapshot, final: finishRequestedAt != nil) { [self] in readOthers(done: pending.done) }
        }
        pending.arm()
    }

    /// The engine's statistics as the next snapshot (nil before centroids or before Redis told our last sequence).
    private func encodeOwnSnapshot() -> [UInt8]? {
        guard let epoch, sequenceKnown, let stats = engine.clusterStatistics else { return nil }
        sequence += 1
        return ShardSnapshot(shard: configuration.shardID, epoch: epoch.epoch, sequence: sequence,
                             dimension: epoch.dimension, statistics: stats).encoded()
    }

    private func publish(_ bytes: [UInt8], final: Bool, done: @escaping () -> Void) {
        let key = keys.shard(configuration.shardID)
        let leaseMs = Int(configuration.lease * 1000)
        let now = Self.wallMilliseconds()
        client.send(["HSET", key, "version", String(ShardSnapshot.version), "seq", String(sequence),
                     "epoch", String(epoch?.epoch ?? 0), "snapshot", bytes, "updated_ms", String(now), "final", final ? "1" : "0"]) { [self] result in
            if final, case .success = result { publishedFinal = true }
        }
        client.send(["PEXPIRE", key, String(leaseMs)]) { _ in }
        client.send(["SADD", keys.shards, configuration.shardID]) { [self] result in
            if case .success = result {
                syncs += 1
                lastSyncBytes = (bytes.count, 0)
                bytesSentTotal += bytes.count
            }
            done()
        }
    }

    /// A hash without statistics (epoch 0, not final) under the lease, and membership in the set.
    private func announcePresence() {
        let key = keys.shard(configuration.shardID)
        client.send(["HSET", key, "version", String(ShardSnapshot.version), "seq", String(sequence), "epoch", "0",
                     "final", "0", "updated_ms", String(Self.wallMilliseconds())]) { _ in }
        client.send(["PEXPIRE", key, String(Int(configuration.lease * 1000))]) { _ in }
        client.send(["SADD", keys.shards, configuration.shardID]) { _ in }
    }

    /// Reads every other shard's sequence, fetches the snapshots that changed, and hands the sum to the engine.
    private func readOthers(done: @escaping () -> Void) {
        client.send(["SMEMBERS", keys.shards]) { [self] result in
            guard case .success(let reply) = result, let members = reply.elements?.compactMap(\.text) else { return done() }
            let others = members.filter { $0 != configuration.shardID }
            var present = Set<String>()
            var finished = Set<String>()
            let fetched = Countdown { [self] in
                let started = Self.threadNanoseconds()
                // A shard missing from Redis stays in the view until a lease has passed since it was
                // last seen: its hash expired (it left) or Redis was emptied (it will publish again).
                let now = loop.now
                // Time Redis did not answer is not time a shard was seen missing: after an outage
                // longer than a lease every peer would otherwise leave the view at the first read,
                // before republishing, and the end's barrier would pass with none of them in it.
                if let last = lastReadAt, now - last > UInt64(2 * configuration.syncEvery * 1000) {
                    let blind = now - last
                    lastSeen = lastSeen.mapValues { min($0 + blind, now) }
                }
                lastReadAt = now
                for shard in present { lastSeen[shard] = now }
                lastSeen = lastSeen.filter { now - $0.value < UInt64(configuration.lease * 1000) }
                let kept = Set(lastSeen.keys)
                view.retain(only: kept)
                peers = kept.count
                let everyoneFinal = kept.isSubset(of: finished)
                let epochNumber = epoch?.epoch ?? 0
                let clusters = engine.options.clusters, d = epoch?.dimension ?? 1
                let sum = view.others(epoch: epochNumber, clusters: clusters, dimension: d)
                let streamingArrivals = view.latest.values
                    .filter { $0.epoch == epochNumber && kept.contains($0.shard) && !finished.contains($0.shard) }
                    .reduce(0) { $0 + $1.statistics.arrivals }
                coordinationNanoseconds += Self.threadNanoseconds() - started
                hooks.whenEngineIdle { [self] in
                    let started = Self.threadNanoseconds()
                    engine.adoptClusterRemote(sum)
                    viewsRead += 1
                    lastView = engine.clusterStatistics.map { LastView(others: sum, streamingArrivals: streamingArrivals, own: $0) }
                    coordinationNanoseconds += Self.threadNanoseconds() - started
                    // After the engine has the final view: the finish job that passing wakes must see it.
                    if finishRequestedAt != nil, publishedFinal, !barrierPassed, everyoneFinal { passBarrier() }
                    if holdingSince != nil, let epochNumber = epoch?.epoch,
                       kept.allSatisfy({ view.latest[$0]?.epoch == epochNumber }) {
                        endHold(reason: "every shard's statistics of epoch \(epochNumber) are in")
                    }
                    if firstViewOwn == nil { firstViewOwn = lastView?.own }
                    done()
                }
            }
            for other in others {
                fetched.expect()
                let key = keys.shard(other)
                client.send(["HMGET", key, "seq", "epoch", "final"]) { [self] result in
                    guard case .success(let reply) = result, let fields = reply.elements, fields.count == 3 else { return fetched.done() }
                    guard let seqText = fields[0].text, let seq = UInt64(seqText) else {
                        // The hash expired: the shard left. Forget it in the set too.
                        client.send(["SREM", keys.shards, other]) { _ in }
                        return fetched.done()
                    }
                    present.insert(other)
                    if fields[2].text == "1" { finished.insert(other) }
                    if let known = view.latest[other], known.sequence >= seq { return fetched.done() }
                    client.send(["HGET", key, "snapshot"]) { [self] result in
                        defer { fetched.done() }
                        guard case .success(.string(let bytes)) = result else { return }
                        let started = Self.threadNanoseconds()
                        bytesReceivedTotal += bytes.count
                        lastSyncBytes.received += bytes.count
                        do {
                            view.offer(try ShardSnapshot(decoding: bytes, what: "redis key \(key)"))
                        } catch {
                            logger.warning("cluster \(configuration.url.name): \(error); that shard's statistics are left out")
                        }
                        coordinationNanoseconds += Self.threadNanoseconds() - started
                    }
                }
            }
            fetched.arm()
        }
    }

    /// Redis does not answer: once per `--sync-every`, the engine decides against the others'
    /// statistics carried forward from the last view by what this shard received since, as the
    /// others received records from the same stream meanwhile (`LastView.estimate`); frozen,
    /// their statistics kept the early members at their weight of the outage's start and every
    /// shard kept more than one daemon would (docs/scale-out.md, "Measured").
    private func carryViewForward(now: UInt64) {
        guard lastView != nil, epoch != nil, holdingSince == nil,
              now - lastCarriedAt >= UInt64(configuration.syncEvery * 1000) else { return }
        lastCarriedAt = now
        let queuedAfter = viewsRead
        hooks.whenEngineIdle { [self] in
            guard viewsRead == queuedAfter, let lastView, let firstViewOwn, let own = engine.clusterStatistics else { return }
            let started = Self.threadNanoseconds()
            engine.adoptClusterRemote(lastView.estimate(ownNow: own, shapeBase: firstViewOwn))
            coordinationNanoseconds += Self.threadNanoseconds() - started
        }
    }

    /// From taking an epoch until the others' statistics of it are in, the engine decides nothing:
    /// records decided on this shard's statistics alone would tilt the global keep ratio (the
    /// leader's fit would decide its warm-up's overflow beyond the look-ahead at once).
    private func holdForView() {
        engine.holdForClusterView(true)
        holdingSince = loop.now
    }

    /// Ends the hold: the engine decides what is due, in an empty batch, then takes batches again.
    /// A shard whose input has ended (or that is stopping) decides nothing by threshold any more:
    /// its held records all wait for the end's barrier and are decided exactly, as one daemon
    /// decides everything it holds at its end. (With `--lookahead` the cluster's, a shard that
    /// took its epoch at the stop held more than its share, and decided the excess by threshold.)
    private func endHold(reason: String) {
        guard holdingSince != nil else { return }
        holdingSince = nil
        logger.info("cluster \(configuration.url.name): deciding: \(reason)")
        hooks.whenEngineIdle { [self] in
            engine.holdForClusterView(finishRequested)
            hooks.nudge()
            hooks.wake()
        }
    }

    /// The held records may now be decided: wake the daemon, whose drain asks `mayFinish` again.
    private func passBarrier() {
        barrierPassed = true
        hooks.wake()
    }

    // MARK: Centroid epochs

    /// No epoch yet: adopt the cluster's if there is one; else, with a full warm-up, claim the lead.
    private func lookForEpoch(warmupFull: Bool, done: @escaping () -> Void) {
        client.send(["GET", keys.epoch]) { [self] result in
            guard case .success(let reply) = result else { return done() }
            if case .string(let bytes) = reply {
                adopt(bytes, done: done)
                return
            }
            guard warmupFull else { return done() }
            client.send(["SET", keys.leader, configuration.shardID, "NX", "PX", String(Int(configuration.lease * 1000))]) { [self] result in
                if case .success(.status(let ok)) = result, ok == "OK" {
                    logger.info("cluster \(configuration.url.name): this shard leads: it fits the centroids of epoch 1 on its warm-up")
                    role = .leader
                    hooks.whenEngineIdle { [self] in
                        engine.leadCluster()
                        holdForView()
                        hooks.wake()
                    }
                }
                done()
            }
        }
    }

    private func adopt(_ bytes: [UInt8], done: @escaping () -> Void) {
        let adopted: CentroidEpoch
        do {
            adopted = try CentroidEpoch(decoding: bytes, what: "redis key \(keys.epoch)")
        } catch {
            logger.error("cluster \(configuration.url.name): \(error); still waiting for usable centroids")
            return done()
        }
        guard adopted.clusters == engine.options.clusters else {
            logger.error("cluster \(configuration.url.name): its epoch \(adopted.epoch) has \(adopted.clusters) concepts, this shard --clusters \(engine.options.clusters); still waiting")
            return done()
        }
        hooks.whenEngineIdle { [self] in
            do {
                try engine.adoptCluster(adopted)
                holdForView()
                epoch = adopted
                epochConfirmed = true
                role = .member
                logger.info("cluster \(configuration.url.name): adopted epoch \(adopted.epoch) from shard \(adopted.leader) (\(adopted.clusters) × \(adopted.dimension) centroids, \(bytes.count) bytes)")
                hooks.wake()
            } catch {
                logger.error("cluster \(configuration.url.name): epoch \(adopted.epoch) not adopted: \(error)")
            }
            done()
        }
    }

    /// Writes our epoch unless one is there (SET NX); one that differs from ours is a conflict.
    private func publishEpoch(_ epoch: CentroidEpoch, done: @escaping () -> Void) {
        let bytes = epoch.encoded()
        client.send(["SET", keys.epoch, bytes, "NX"]) { [self] result in
            guard case .success(let reply) = result else { return done() }
            if case .status = reply {
                epochConfirmed = true
                if role == .leader {
                    role = .member
                    logger.info("cluster \(configuration.url.name): published epoch \(epoch.epoch) (\(bytes.count) bytes of centroids)")
                }
                return done()
            }
            client.send(["GET", keys.epoch]) { [self] result in
                defer { done() }
                guard case .success(.string(let stored)) = result else { return }
                let theirs = try? CentroidEpoch(decoding: stored, what: keys.epoch)
                epochConfirmed = true
                if role == .leader { role = .member }
                if !(theirs.map { Self.sameCentroids($0, epoch) } ?? false) {
                    if !epochConflict {
                        logger.error("cluster \(configuration.url.name): Redis holds other centroids than this shard decides against (was Redis emptied while another shard led?); this shard now decides on its own statistics only")
                    }
                    epochConflict = true
                    hooks.whenEngineIdle { [self] in engine.adoptClusterRemote(nil) }
                }
            }
        }
    }

    /// The leader renews its claim while it fits (compare-and-expire, so a claim that passed on is not touched).
    private func renewLeadership(done: @escaping () -> Void) {
        let script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end"
        client.send(["EVAL", script, "1", keys.leader, configuration.shardID, String(Int(configuration.lease * 1000))]) { _ in done() }
    }

    /// After every (re)connect: learn the last sequence Redis holds for us (so ours continues
    /// after a restart), and make sure Redis holds our epoch (it may have been emptied).
    private func rejoin() {
        epochConfirmed = false
        client.send(["HGET", keys.shard(configuration.shardID), "seq"]) { [self] result in
            guard case .success(let reply) = result else { return }
            if let text = reply.text, let stored = UInt64(text) { sequence = max(sequence, stored) }
            sequenceKnown = true
        }
    }

    // MARK: Status

    /// The `cluster` object of `prunerd status`.
    func writeStatus(into json: inout JSONWriter) {
        json.key("cluster")
        json.open()
        json.field("name", configuration.url.name)
        json.field("shard", configuration.shardID)
        json.field("redis", client.isConnected ? "connected" : "unreachable")
        json.field("role", role.rawValue)
        json.field("waiting_for_epoch", role == .waiting ? 1 : 0)
        json.field("holding_for_view", holdingSince != nil ? 1 : 0)
        json.field("epoch", epoch.map { Int($0.epoch) } ?? 0)
        json.field("epoch_conflict", epochConflict ? 1 : 0)
        json.field("sequence", Int(sequence))
        json.field("peers", peers)
        json.field("syncs", syncs)
        json.field("last_sync_age_seconds", lastSyncAt > 0 ? Double(loop.now - lastSyncAt) / 1000 : nil)
        json.field("bytes_sent_last_sync", lastSyncBytes.sent)
        json.field("bytes_received_last_sync", lastSyncBytes.received)
        json.field("bytes_sent", bytesSentTotal)
        json.field("bytes_received", bytesReceivedTotal)
        json.field("coordination_cpu_seconds", Double(coordinationNanoseconds) / 1e9)
        if let global = engine.clusterGlobalTotals {
            json.field("global_records", global.arrivals)
            json.field("global_kept", global.kept)
            json.field("global_keep_ratio", global.kept + global.dropped > 0 ? Double(global.kept) / Double(global.kept + global.dropped) : 0)
        }
        json.close()
    }

    /// CPU time of the calling (loop) thread: wall-clock spans would count the time the
    /// thread waits for a core on a loaded machine.
    static func threadNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// The same centroids up to rounding (an adopting engine renormalises the rows it is given).
    static func sameCentroids(_ a: CentroidEpoch, _ b: CentroidEpoch) -> Bool {
        guard a.clusters == b.clusters, a.dimension == b.dimension, a.centroids.count == b.centroids.count else { return false }
        return zip(a.centroids, b.centroids).allSatisfy { abs($0 - $1) <= 1e-5 }
    }

    static func wallMilliseconds() -> Int64 {
        var time = uv_timeval64_t()
        uv_gettimeofday(&time)
        return time.tv_sec * 1000 + Int64(time.tv_usec / 1000)
    }
}

/// Runs `body` once every expected completion is done and `arm` was called.
private final class Countdown {
    private var outstanding = 0
    private var armed = false
    private var body: (() -> Void)?

    init(_ body: @escaping () -> Void) { self.body = body }

    func expect() { outstanding += 1 }
    func done() { outstanding -= 1; fire() }
    func arm() { armed = true; fire() }

    private func fire() {
        guard armed, outstanding == 0, let body else { return }
        self.body = nil
        body()
    }
}
