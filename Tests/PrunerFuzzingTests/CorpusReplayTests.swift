// Replays every kept fuzz corpus (Fuzz/Corpus/TARGET) through the same entry
// points libFuzzer drove, without the sanitizer: an input that once crashed or
// broke an invariant fails here, in CI, if the bug comes back.
import Foundation
import PrunerFuzzing
import Testing

@Suite struct CorpusReplayTests {
    static let corpusRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus")

    static func inputs(_ target: FuzzTarget) throws -> [URL] {
        let folder = corpusRoot.appendingPathComponent(target.rawValue)
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyKeptInputRunsCleanly(target: FuzzTarget) throws {
        let files = try Self.inputs(target)
        // The corpus is part of the repo: an empty folder means it was lost.
        #expect(files.count >= 5, "Fuzz/Corpus/\(target.rawValue) holds \(files.count) inputs")
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            #expect(throws: Never.self, "\(target.rawValue)/\(file.lastPathComponent)") { try target.run(bytes) }
        }
    }
}

/// The engine's own checkpoints, as the fuzz-checkpoint seeds: they must restore
/// (a seed that fails to restore would leave the fuzzer only the error paths).
@Suite struct CheckpointSeedTests {
    @Test func everySeedCheckpointRunsCleanly() throws {
        let inputs = CheckpointSeeds.inputs()
        #expect(inputs.count >= 10)
        for (name, bytes) in inputs {
            #expect(throws: Never.self, "\(name)") { try FuzzTarget.checkpoint.run(bytes) }
        }
    }

    /// Writes them into Fuzz/Corpus/checkpoint (once, by hand).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PRUNERD_WRITE_FUZZ_SEEDS"] == "1"))
    func seedWriter() throws {
        let folder = CorpusReplayTests.corpusRoot.appendingPathComponent("checkpoint")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, bytes) in CheckpointSeeds.inputs() {
            try Data(bytes).write(to: folder.appendingPathComponent("seed-\(name)"))
        }
    }
}
