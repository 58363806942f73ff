// How `prunerd serve` starts from its state directory: the checkpoint restored
// when there is one and `--fresh` is not given; a checkpoint that does not
// restore is moved aside (never half-loaded) once the run is sure to start, and
// the run starts fresh; the
// `--unique-ids` filter taken from the checkpoint or made new.
import Logging
import PrunerCore
import PrunerDaemon

/// The engine a run starts with, and what the checkpoint it came from held.
public struct StartingEngine {
    /// The streaming engine, restored or new.
    public var engine: StreamingEngine
    /// The checkpoint's input positions; nil for a fresh start or a bare engine checkpoint of an older prunerd.
    public var resume: ResumePoint?
    /// Whether the engine's state came from the checkpoint.
    public var restoredEngine: Bool
    /// The checkpoint's `--unique-ids` filter, if it held one.
    public var idFilter: IDFilter?
    /// Why nothing was resumed, when nothing was: said when the run then refuses a decision log
    /// that holds lines, so the way out named is the right one.
    public var noResume = StartPreparation.noCheckpoint
    /// A checkpoint that did not restore, and why: moved aside by `setRejectedCheckpointAside`
    /// once the run is sure to start, so that a start refused for another reason (a log that
    /// holds lines) leaves it where the corrected command will find it.
    public var rejectedCheckpoint: (path: String, reason: String)?

    /// Renames the checkpoint that did not restore to `<checkpoint>.rejected` (kept for
    /// inspection; the run's own checkpoints take its place) and logs why.
    public func setRejectedCheckpointAside(logger: Logger) {
        guard let (checkpoint, reason) = rejectedCheckpoint else { return }
        let aside = checkpoint + DaemonSettings.rejectedCheckpointSuffix
        logger.error("checkpoint \(checkpoint) not restored: \(reason); moved to \(aside), starting fresh")
        try? FileSystem.rename(checkpoint, to: aside)
    }
}

extension DaemonSettings {
    /// The suffix a checkpoint that does not restore is renamed with, kept for inspection.
    public static let rejectedCheckpointSuffix = ".rejected"

    /// The engine, restored from the state directory's checkpoint when there is one (and no `--fresh`).
    /// A checkpoint that cannot be restored is not loaded at all, and the run starts fresh: a bad
    /// file never stops a service nor half-loads. It is named in `rejectedCheckpoint`, for the
    /// caller to move aside (`setRejectedCheckpointAside`) once nothing else stops the start.
    /// - Throws: only what a fresh start throws (`--centroids` that cannot be read, options the engine refuses).
    public func startingEngine(logger: Logger) throws -> StartingEngine {
        var noResume = StartPreparation.noCheckpoint
        var rejected: (path: String, reason: String)?
        if let checkpoint = checkpointPath, !fresh, FileSystem.fileExists(atPath: checkpoint) {
            do {
                return try restore(checkpoint, logger: logger)
            } catch {
                let reason = (error as? CheckpointError)?.message(naming: ServeOptions.flag(for:)) ?? "\(error)"
                rejected = (checkpoint, reason)
                noResume = "its checkpoint was not restored (\(reason); it is left at \(checkpoint), "
                    + "for a start with the options it was written under)"
            }
        } else if fresh {
            noResume = "--fresh starts without the checkpoint"
        } else if checkpointPath == nil, FileSystem.fileExists(atPath: checkpointFile) {
            noResume = "checkpoints are off for this run, so \(checkpointFile) is not resumed from "
                + "(pass --checkpoint-every 0 to resume from it and checkpoint at the stop)"
        }
        var start = StartingEngine(engine: try StreamingEngine(options: pruning, centroids: try output.loadCentroids(clusters: pruning.clusters)),
                                   resume: nil, restoredEngine: false, idFilter: nil)
        start.noResume = noResume
        start.rejectedCheckpoint = rejected
        return start
    }

    private func restore(_ checkpoint: String, logger: Logger) throws -> StartingEngine {
        let bytes = try FileSystem.readFile(atPath: checkpoint)
        guard ResumePoint.isResumePoint(bytes) else {
            let engine = try StreamingEngine(restoringCheckpoint: bytes, options: pruning)
            logger.info("restored checkpoint \(checkpoint) (an engine checkpoint without input positions: inputs are read from their start)")
            return StartingEngine(engine: engine, resume: nil, restoredEngine: true, idFilter: nil)
        }
        var point = try ResumePoint(decoding: bytes)
        let engine = point.engine.isEmpty
            ? try StreamingEngine(options: pruning, centroids: try output.loadCentroids(clusters: pruning.clusters))
            : try StreamingEngine(restoringCheckpoint: point.engine, options: pruning)
        let filter = try point.idFilter.map { bytes throws(CheckpointError) in try IDFilter(checkpoint: bytes) }
        point.idFilter = nil   // decoded; the bytes (tens of MB) are not kept twice
        logger.info("restored checkpoint \(checkpoint)")
        return StartingEngine(engine: engine, resume: point, restoredEngine: !point.engine.isEmpty, idFilter: filter)
    }

    /// `--unique-ids`: the checkpoint's filter when there is one (it describes the records the
    /// restored state counts), else a new one sized by `--expected-records`; what the operator
    /// should know about the choice goes into `plan`.
    public func idFilter(restored: consuming IDFilter?, resume: ResumePoint?, restoredEngine: Bool,
                         plan: inout StartPlan) -> IDFilter? {
        guard uniqueIDs else {
            if restored != nil {
                plan.notices.append("the checkpoint's id filter is not used (no --unique-ids): repeated ids are decided like any record, and the next checkpoint no longer holds the filter")
            }
            return nil
        }
        if let restored {
            var notice = "--unique-ids: the checkpoint's id filter holds \(restored.insertedCount) ids (sized for \(restored.expectedRecords))"
            if restored.expectedRecords != expectedRecords {
                notice += "; it keeps its size, --expected-records \(expectedRecords) applies to a fresh start (--fresh)"
            }
            plan.notices.append(notice)
            return restored
        }
        if resume != nil || restoredEngine {
            plan.warnings.append("--unique-ids: the checkpoint holds no id filter (it was written without --unique-ids): ids decided before it are not recognised as repeats")
        }
        return IDFilter(expectedRecords: expectedRecords)
    }
}
