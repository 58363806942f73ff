// The restart loops of the crash-safe resume tests: the same `prunerd serve`
// command started again and again, each run stopped by a signal at a random
// (seeded) moment, and the decision log it leaves checked against an
// uninterrupted run's. Shared by the SIGKILL loop (CrashResumeTests) and the
// SIGTERM loop (StopResumeTests).
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

enum RestartLoop {
    /// SplitMix64: the stop moments are random, and the same on every run of the test.
    struct Moments {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
    }

    /// What a loop did: signals that landed in a running process, runs started, runs that resumed from a recorded position.
    struct Tally {
        var stops = 0
        var runs = 0
        var resumed = 0
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// Starts prunerd with its stderr going to `stderr` (a file: a killed process leaves it whole).
    static func start(_ arguments: [String], stderr: URL, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.prunerd)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderr)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs `command` until `signal` landed `stops` times (at most `maxRuns` runs). Most signals
    /// come once the log grew by a random amount (up to 0.75 MB, ~5,000 lines: every run leaves
    /// work for the next, and a run overshoots its target by what it writes before the signal
    /// lands, so the input must outlast `stops` of them: at 1.5 MB the 120,000-record input was
    /// done after 9–11 SIGTERMs on a loaded machine), plus a random delay of up to 30 ms; one
    /// in four at a random moment of the run's first 0.15 s. No run may log an error.
    static func run(_ command: [String], log: String, signal: Int32, stops: Int, seed: UInt64, work: URL,
                    maxRuns: Int = 40) throws -> Tally {
        var moments = Moments(state: seed)
        var tally = Tally()
        while tally.stops < stops && tally.runs < maxRuns {
            tally.runs += 1
            let stderr = work.appendingPathComponent("run\(tally.runs).txt")
            let process = try start(command, stderr: stderr)
            if moments.next() < 0.25 {
                usleep(UInt32(moments.next() * 150_000))
            } else {
                let target = fileSize(log) + Int(moments.next() * 750_000)
                _ = pollUntil(timeout: 20, poll: 0.002) { !process.isRunning || fileSize(log) > target }
                usleep(UInt32(moments.next() * 30_000))
            }
            if process.isRunning {
                kill(process.processIdentifier, signal)
                tally.stops += 1
            }
            process.waitUntilExit()
            let text = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
            #expect(!text.contains("error"), "run \(tally.runs): \(text)")
            if text.contains("resumes after record") { tally.resumed += 1 }
        }
        return tally
    }

    /// The log's verdicts by id, after checking that every line is whole and parses, that
    /// no id has two lines, and that the `seq`s are exactly 0..<records.
    static func exactlyOnce(log: String, records: Int) throws -> [String: String] {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: log))
        #expect(bytes.last == UInt8(ascii: "\n"))
        var verdicts: [String: String] = [:]
        var seqs: [Int] = []
        var unparsable = 0, duplicates = 0
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let id = object["id"] as? String, let decision = object["decision"] as? String,
                  let seq = object["seq"] as? Int else {
                unparsable += 1
                continue
            }
            if verdicts.updateValue(decision, forKey: id) != nil { duplicates += 1 }
            seqs.append(seq)
        }
        #expect(unparsable == 0, "\(unparsable) torn or unparsable lines")
        #expect(duplicates == 0, "\(duplicates) ids with a second line")
        #expect(verdicts.count == records)
        #expect(seqs.sorted() == Array(0..<records))
        return verdicts
    }

    /// How far `verdicts` are from the uninterrupted run's (`reference`, a decision log): ids in
    /// one kept set but not the other, and records decided otherwise.
    static func differences(_ verdicts: [String: String], reference: String) throws -> (keptSet: Int, decisions: Int) {
        let expected = parseDecisions(try Data(contentsOf: URL(fileURLWithPath: reference)))
        let keptBefore = Set(expected.filter { $0.decision == "keep" }.map(\.id))
        let keptAfter = Set(verdicts.filter { $0.value == "keep" }.map(\.key))
        return (keptAfter.symmetricDifference(keptBefore).count, expected.filter { verdicts[$0.id] != $0.decision }.count)
    }

    /// Checks that `verdicts` are the uninterrupted run's: the same kept set and every decision equal.
    static func expectUninterrupted(_ verdicts: [String: String], reference: String) throws {
        let (keptSet, decisions) = try differences(verdicts, reference: reference)
        #expect(keptSet == 0, "kept sets differ in \(keptSet) ids")
        #expect(decisions == 0, "\(decisions) decisions differ from the uninterrupted run's")
    }
}
